"""Loads the web view's fleet page in Chromium for tests/fleet.rs and reports, as one JSON
line, the cells of each row of its instances and leases tables and the console's errors.
Argument: the page's URL. Observations only: the Rust test makes the assertions."""

import json
import sys

import chromium
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait


def rows(driver, table):
    return [
        [cell.text for cell in row.find_elements(By.TAG_NAME, "td")]
        for row in driver.find_elements(By.CSS_SELECTOR, f"#{table} tbody tr")
    ]


def main():
    url = sys.argv[1]
    driver = chromium.start()
    try:
        driver.set_page_load_timeout(120)
        driver.get(url)
        WebDriverWait(driver, 30).until(expected_conditions.presence_of_element_located((By.ID, "fleet")))
        report = {
            "title": driver.title,
            "instances": rows(driver, "fleet"),
            "leases": rows(driver, "fleet-leases"),
            "console_errors": [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"],
        }
    finally:
        driver.quit()
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
