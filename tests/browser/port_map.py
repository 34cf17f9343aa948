"""Drives the port map in Chromium for tests/browser.rs: loads the page, reports what it
shows as one JSON line, then, each time a line arrives on stdin, waits for the page's
live update to show the text on that line and reports again. A screenshot is taken when
asked. Observations only: the Rust test makes the assertions."""

import json
import sys
import time

import chromium
from selenium.webdriver.common.by import By


def observe(driver):
    marks = driver.find_elements(By.CSS_SELECTOR, ".band .mark")
    return {
        "title": driver.title,
        "slots": [cell.text for cell in driver.find_elements(By.CSS_SELECTOR, "#ports tbody tr td:nth-child(2)") if cell.text],
        "conflict_marks": [mark.get_attribute("data-port") for mark in marks if "conflict" in mark.get_attribute("class").split()],
        "conflict_titles": [mark.get_attribute("title") for mark in marks if "conflict" in mark.get_attribute("class").split()],
        "containers": [cell.text for cell in driver.find_elements(By.CSS_SELECTOR, "#ports tbody tr td:nth-child(5)") if cell.text],
        "console_errors": [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"],
        "updated": driver.find_element(By.ID, "updated").text,
    }


def main():
    url, screenshot = sys.argv[1], sys.argv[2]
    driver = chromium.start("--window-size=1400,1000")
    try:
        driver.set_page_load_timeout(30)
        driver.get(url)
        print(json.dumps(observe(driver)), flush=True)
        for line in sys.stdin:
            wanted = line.strip()
            deadline = time.monotonic() + 30
            while wanted not in driver.find_element(By.ID, "live").text and time.monotonic() < deadline:
                time.sleep(0.2)
            if screenshot != "-":
                driver.save_screenshot(screenshot)
            print(json.dumps(observe(driver)), flush=True)
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
