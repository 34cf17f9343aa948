"""The headless Chromium the browser tests drive: Debian's chromium and chromium-driver,
with the browser console's messages kept for the tests to read."""

from selenium import webdriver
from selenium.webdriver.chrome.service import Service


def start(*extra_arguments):
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", *extra_arguments):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=options, service=Service(executable_path="/usr/bin/chromedriver"))
