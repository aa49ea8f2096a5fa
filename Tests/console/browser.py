"""What the browser journeys share: Debian's headless Chromium under selenium, and their checks."""
import os

from selenium import webdriver
from selenium.webdriver.chrome.service import Service


def check(condition, message):
    if not condition:
        raise AssertionError(message)


def chromium(width=1366, height=900, phone=False, flags=()):
    """A headless Chromium of `width` x `height`; with `phone`, Chromium's device emulation at that size
    (a phone's screen and touch: a plain window is 500 px wide at least)."""
    options = webdriver.ChromeOptions()
    options.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 f"--window-size={width},{height}", "--lang=en-US", *flags):
        options.add_argument(flag)
    if phone:
        options.add_experimental_option("mobileEmulation", {"deviceMetrics": {"width": width, "height": height, "pixelRatio": 2, "touch": True}})
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")), options=options)
    driver.set_page_load_timeout(60)
    return driver


def policy_violations(driver):
    """Console errors that a Content-Security-Policy refusal would log (inline script or style)."""
    try:
        return [entry["message"] for entry in driver.get_log("browser") if "Content Security Policy" in entry["message"]]
    except Exception:
        return []
