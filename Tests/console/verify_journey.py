#!/usr/bin/env python3
"""The person's side of a real-person check, in a phone-sized headless Chromium driven by selenium.

    verify_journey.py PHOTO SCREENSHOT_DIR LINK [LINK ...]

For each H5 link (one made in each dialect): opens it, checks the page fits a phone and explains the
steps, checks the form cannot be sent without consent, ticks consent, picks the photo (the page's
file input, which is the camera on a phone), sends it and waits for the page to say where the check
stands. Prints a JSON report on stdout ({"pages": [{"link", "state", ...}], "screenshots": [...]});
any failed check exits non-zero with why.
"""
import json
import os
import sys

from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from browser import check, chromium, policy_violations

PHOTO, SHOTS, LINKS = sys.argv[1], sys.argv[2], sys.argv[3:]
os.makedirs(SHOTS, exist_ok=True)
report = {"pages": [], "screenshots": []}


def shot(driver, name):
    path = os.path.join(SHOTS, f"verify-{len(report['screenshots']) + 1:02d}-{name}.png")
    driver.save_screenshot(path)
    report["screenshots"].append(path)


def state(driver):
    """The page's `data-state` (open, submitted, verified, failed, expired), or None mid-navigation."""
    try:
        return driver.execute_script("const v = document.getElementById('verify'); return v ? v.dataset.state : null")
    except WebDriverException:
        return None


driver = chromium(390, 844, phone=True)
try:
    for number, link in enumerate(LINKS, start=1):
        page = {"link": link}
        driver.get(link)
        WebDriverWait(driver, 30).until(EC.presence_of_element_located((By.ID, "verify-form")))
        page["opened_state"] = state(driver)
        page["steps"] = len(driver.find_elements(By.CSS_SELECTOR, "ol.steps li"))
        page["overflow"] = driver.execute_script("return document.documentElement.scrollWidth > window.innerWidth + 1")
        photo = driver.find_element(By.ID, "verify-photo")
        page["capture"] = photo.get_attribute("capture")
        shot(driver, f"open-{number}")

        # A photo without consent: the browser keeps the form (the consent box is required).
        photo.send_keys(PHOTO)
        driver.find_element(By.ID, "verify-submit").click()
        page["sent_without_consent"] = driver.current_url != link or state(driver) != page["opened_state"]
        page["consent_valid"] = driver.execute_script("return document.getElementById('verify-consent').checkValidity()")

        driver.find_element(By.ID, "verify-consent").click()
        check(driver.execute_script("return document.getElementById('verify-form').checkValidity()"),
              f"{link}: the form with consent and a photo is still invalid")
        driver.find_element(By.ID, "verify-submit").click()
        WebDriverWait(driver, 30).until(lambda d: state(d) not in (None, page["opened_state"]))
        page["state"] = state(driver)
        page["message"] = (driver.find_elements(By.ID, "verify-message") or [None])[0]
        page["message"] = page["message"].text if page["message"] is not None else ""
        shot(driver, f"{page['state']}-{number}")
        report["pages"].append(page)

    report["policy_violations"] = policy_violations(driver)
finally:
    driver.quit()

print(json.dumps(report))
