"""Drives the web view's actions in Chromium for tests/web.rs: logs in with the token from
stdin, starts instance N of `web` in an environment from the instances page's form, stops
its container with its row's button (accepting the confirmation), and reports what each
page said as one JSON line. Arguments: URL N ENVIRONMENT CONTAINER.
Observations only: the Rust test makes the assertions."""

import json
import sys

import chromium
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import Select, WebDriverWait


def errors(driver):
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def main():
    url, instance, environment, container = sys.argv[1:5]
    token = sys.stdin.readline().strip()
    driver = chromium.start()
    report = {}
    try:
        driver.set_page_load_timeout(60)
        driver.get(url + "login")
        driver.find_element(By.NAME, "token").send_keys(token)
        driver.find_element(By.CSS_SELECTOR, "#login button").click()
        WebDriverWait(driver, 30).until(expected_conditions.presence_of_element_located((By.ID, "start")))
        report["after_login"] = driver.current_url
        Select(driver.find_element(By.CSS_SELECTOR, "#start select[name=env]")).select_by_visible_text(environment)
        Select(driver.find_element(By.CSS_SELECTOR, "#start select[name=service]")).select_by_visible_text("web")
        field = driver.find_element(By.CSS_SELECTOR, "#start input[name=instance_id]")
        field.clear()
        field.send_keys(instance)
        driver.find_element(By.CSS_SELECTOR, "#start button").click()
        WebDriverWait(driver, 60).until(expected_conditions.presence_of_element_located((By.ID, "outcome")))
        report["started"] = driver.find_element(By.ID, "outcome").text
        driver.find_element(By.LINK_TEXT, "back to the instances").click()
        WebDriverWait(driver, 30).until(expected_conditions.presence_of_element_located((By.ID, "instances")))
        report["rows"] = [row.text for row in driver.find_elements(By.CSS_SELECTOR, "#instances tbody tr")]
        # Other tests' instances may be listed too: only this one's row is touched.
        stop = driver.find_element(By.CSS_SELECTOR, f"tr[id='instance-{container}'] form[action='/actions/stop'] button")
        stop.click()
        WebDriverWait(driver, 10).until(expected_conditions.alert_is_present())
        alert = driver.switch_to.alert
        report["question"] = alert.text
        alert.accept()
        WebDriverWait(driver, 60).until(expected_conditions.presence_of_element_located((By.ID, "outcome")))
        report["stopped"] = driver.find_element(By.ID, "outcome").text
        report["console_errors"] = errors(driver)
    finally:
        driver.quit()
        print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
