#!/usr/bin/env python3
"""The console's journey in a real browser: Debian's headless Chromium driven by selenium.

    console_journey.py BASE_URL ADMIN_TOKEN SCREENSHOT_DIR

Signs in as the operator, creates a key, signs in as that key (in a second browser), generates a
video from the playground, watches it finish, plays it, checks the owner cannot reach the
operator's pages, finds the task in the operator's list with its timeline, revokes the key and sees
the owner's session end. Prints a JSON report on stdout; any failed check exits non-zero with why.
"""
import json
import os
import re
import sys
import time

from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

from browser import check, chromium, policy_violations

BASE, ADMIN, SHOTS = sys.argv[1], sys.argv[2], sys.argv[3]
os.makedirs(SHOTS, exist_ok=True)
report = {"screenshots": []}


def browser(width=1366, height=900):
    return chromium(width, height, flags=("--autoplay-policy=no-user-gesture-required",))


def shot(driver, name):
    path = os.path.join(SHOTS, f"{len(report['screenshots']) + 1:02d}-{name}.png")
    driver.save_screenshot(path)
    report["screenshots"].append(path)


def wait(driver, seconds=30):
    return WebDriverWait(driver, seconds)


def sign_in(driver, credential):
    driver.get(BASE + "/console")
    wait(driver).until(EC.presence_of_element_located((By.ID, "credential")))
    field = driver.find_element(By.ID, "credential")
    field.clear()
    field.send_keys(credential)
    field.submit()


operator = browser()
owner = browser()
try:
    # Nothing without a session: the console sends a stranger to the sign-in page.
    operator.get(BASE + "/console/tasks")
    check(operator.current_url.endswith("/console/login"), f"a page without a session went to {operator.current_url}")
    shot(operator, "sign-in")
    sign_in(operator, "sg-admin-not-the-token")
    error = wait(operator).until(EC.presence_of_element_located((By.ID, "signin-error"))).text
    check("neither the admin token nor a live API key" in error, f"wrong credentials said: {error}")
    report["wrong_credentials"] = error

    # The operator signs in and sees the overview, drawn as SVG.
    sign_in(operator, ADMIN)
    wait(operator).until(EC.url_contains("/console/overview"))
    check(len(operator.find_elements(By.CSS_SELECTOR, "svg.chart")) >= 4, "the overview has its charts")
    shot(operator, "operator-overview")

    # A new key, its secret shown once.
    operator.get(BASE + "/console/keys")
    form = operator.find_element(By.ID, "create-key")
    form.find_element(By.NAME, "name").send_keys("browser customer")
    credits = form.find_element(By.NAME, "credits")
    credits.clear()
    credits.send_keys("500000")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    secret = wait(operator).until(EC.presence_of_element_located((By.ID, "new-key-secret"))).text.strip()
    check(re.fullmatch(r"sk-sg-[a-z0-9]{40}", secret) is not None, f"the new key's secret: {secret!r}")
    shot(operator, "operator-key-created")
    key_link = operator.find_element(By.CSS_SELECTOR, "#created-key a").get_attribute("href")
    key_id = key_link.rsplit("/", 1)[-1]
    report["key_id"] = key_id

    # The key's owner, in a browser of their own.
    sign_in(owner, secret)
    wait(owner).until(EC.url_contains("/console/home"))
    check("500,000" in owner.find_element(By.ID, "balance").text, "the owner sees their balance")
    shot(owner, "owner-home")
    for page in ("overview", "keys", f"keys/{key_id}", "channels"):
        owner.get(f"{BASE}/console/{page}")
        check("403" in owner.find_element(By.CSS_SELECTOR, ".code").text, f"the owner reached the operator's /console/{page}")
    shot(owner, "owner-forbidden")

    # The playground refuses what the API refuses, with the API's message next to the field.
    owner.get(BASE + "/console/playground")
    duration = owner.find_element(By.ID, "duration")
    duration.clear()
    duration.send_keys("99")
    owner.find_element(By.ID, "prompt").send_keys("A paper boat drifting down a rainy street")
    owner.find_element(By.ID, "generate").click()
    message = wait(owner).until(EC.presence_of_element_located((By.CSS_SELECTOR, ".field-error[data-field=duration]"))).text
    check("4" in message and "15" in message, f"the duration's error: {message}")
    report["duration_error"] = message
    shot(owner, "owner-playground-error")

    # Now a real one: 4 seconds, 16:9, 480p, with audio.
    duration = owner.find_element(By.ID, "duration")
    duration.clear()
    duration.send_keys("4")
    Select(owner.find_element(By.ID, "resolution")).select_by_visible_text("480p")
    owner.find_element(By.ID, "generate").click()
    wait(owner).until(EC.url_matches(r".*/console/tasks/task_[0-9A-Z]+$"))
    task_id = owner.current_url.rsplit("/", 1)[-1]
    report["task_id"] = task_id
    shot(owner, "owner-task-running")
    # The page follows the task (its script polls and reloads when it is final).
    seen = set()
    deadline = time.time() + 240
    while time.time() < deadline:
        try:
            seen.add(owner.find_element(By.ID, "task-progress").get_attribute("value"))
            if owner.find_elements(By.ID, "result-video"):
                break
        except Exception:
            pass
        time.sleep(0.3)
    check(owner.find_elements(By.ID, "result-video"), f"the task did not finish in the page: {owner.find_element(By.ID, 'task-status').text}")
    report["progress_seen"] = sorted(seen, key=lambda v: int(v or 0))

    # Play it: the player reports the task's duration, and seeking works (the link serves Range).
    video = owner.find_element(By.ID, "result-video")
    wait(owner, 30).until(lambda d: d.execute_script("return arguments[0].readyState >= 1", video))
    played = owner.execute_script("return arguments[0].duration", video)
    report["video_duration"] = played
    seekable = owner.execute_script("const v = arguments[0]; return v.seekable.length ? v.seekable.end(0) : 0", video)
    report["seekable_end"] = seekable
    owner.execute_script("const v = arguments[0]; v.muted = true; v.currentTime = 2.5; v.play();", video)
    wait(owner, 30).until(lambda d: d.execute_script("return arguments[0].currentTime > 2.4 && !arguments[0].seeking", video))
    report["current_time_after_seek"] = owner.execute_script("return arguments[0].currentTime", video)
    time.sleep(0.6)
    raw = json.loads(owner.find_element(By.ID, "raw-json").get_attribute("textContent"))
    report["raw_status"] = raw.get("status")
    report["raw_duration"] = raw.get("duration")
    frame = owner.find_elements(By.ID, "last-frame")
    report["last_frame_loaded"] = bool(frame) and owner.execute_script("return arguments[0].naturalWidth", frame[0]) > 0
    shot(owner, "owner-task-done")

    # The operator finds it, filtered by the key, with its timeline.
    operator.get(f"{BASE}/console/tasks?key={key_id}&status=completed")
    rows = operator.find_elements(By.CSS_SELECTOR, "table.tasks tbody tr")
    check(any(task_id in row.text for row in rows), f"the operator's list filtered by key lacks {task_id}")
    shot(operator, "operator-tasks")
    operator.find_element(By.LINK_TEXT, task_id).click()
    timeline = wait(operator).until(EC.presence_of_element_located((By.ID, "timeline"))).text
    report["timeline"] = [line for line in timeline.splitlines() if line.strip()]
    for kind in ("accepted", "held", "started", "completed", "charged"):
        check(kind in timeline, f"the timeline lacks '{kind}': {timeline}")
    shot(operator, "operator-task")
    operator.get(BASE + "/console/assets")
    shot(operator, "operator-assets")
    operator.get(BASE + "/console/channels")
    shot(operator, "operator-channels")

    # In Chinese, by the switch in the header.
    operator.find_element(By.CSS_SELECTOR, "a.lang").click()
    wait(operator).until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, ".nav"), "概览"))
    shot(operator, "operator-chinese")
    operator.get(BASE + "/console/overview?lang=en")

    # Revoking the key ends its owner's session.
    operator.get(f"{BASE}/console/keys/{key_id}")
    operator.find_element(By.CSS_SELECTOR, "#revoke-form button").click()
    operator.switch_to.alert.accept()
    wait(operator).until(EC.presence_of_element_located((By.ID, "done")))
    shot(operator, "operator-key-revoked")
    owner.get(BASE + "/console/home")
    check(owner.current_url.endswith("/console/login"), f"the revoked key's session still reached {owner.current_url}")
    report["owner_after_revoke"] = owner.current_url

    # A phone's view of a page.
    phone = browser(390, 844)
    try:
        sign_in(phone, ADMIN)
        wait(phone).until(EC.url_contains("/console/overview"))
        phone.get(f"{BASE}/console/tasks/{task_id}")
        shot(phone, "phone-task")
        report["phone_overflow"] = phone.execute_script("return document.documentElement.scrollWidth > window.innerWidth + 1")
    finally:
        phone.quit()
    report["policy_violations"] = policy_violations(operator) + policy_violations(owner)
except (AssertionError, TimeoutException) as failure:
    for name, driver in (("operator", operator), ("owner", owner)):
        try:
            shot(driver, f"failure-{name}")
            print(f"{name} at {driver.current_url}:\n{driver.find_element(By.TAG_NAME, 'body').text[:1500]}", file=sys.stderr)
        except Exception:
            pass
    print(f"console journey failed: {failure!r}", file=sys.stderr)
    print(json.dumps(report, ensure_ascii=False))
    sys.exit(1)
finally:
    operator.quit()
    owner.quit()
print(json.dumps(report, ensure_ascii=False))
