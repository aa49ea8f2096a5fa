"""Drives Seedgate with the official Ark Python SDK (volcengine-python-sdk, module volcenginesdkarkruntime),
exactly as its documentation shows: create, get, list with filters, delete, and the SDK's own exceptions.

Run by Tests/SeedgateTests/ArkDialectTests.swift against a live Seedgate:
    python3 ark_sdk_journey.py BASE_URL API_KEY FIXTURES_BASE OUT_DIR MODEL
Prints one JSON object: what was made, downloaded and refused. Exits non-zero on any surprise.
"""
import json
import sys
import time
import urllib.parse
import urllib.request

from volcenginesdkarkruntime import Ark
from volcenginesdkarkruntime._exceptions import ArkAuthenticationError, ArkBadRequestError, ArkNotFoundError

base_url, api_key, fixtures, out_dir, model = sys.argv[1:6]
client = Ark(base_url=base_url, api_key=api_key, max_retries=0)
report = {"tasks": {}, "errors": {}}


def wait(task_id, limit=240):
    deadline = time.time() + limit
    while time.time() < deadline:
        task = client.content_generation.tasks.get(task_id=task_id)
        if task.status in ("succeeded", "failed", "cancelled", "expired"):
            return task
        time.sleep(0.5)
    raise SystemExit(f"task {task_id} did not finish")


def download(url, name):
    # The link names the gateway's public URL; the test's server listens on a port of its own.
    parts = urllib.parse.urlsplit(url)
    origin = urllib.parse.urlsplit(base_url)
    local = urllib.parse.urlunsplit((origin.scheme, origin.netloc, parts.path, parts.query, ""))
    path = f"{out_dir}/{name}.mp4"
    with urllib.request.urlopen(local) as response, open(path, "wb") as file:
        file.write(response.read())
    return path


cases = {
    "t2v": dict(
        model=model,
        content=[{"type": "text", "text": "A kitten yawning at the camera"}],
        ratio="16:9", resolution="480p", duration=4, seed=11, generate_audio=True, watermark=False,
    ),
    "i2v_first_last": dict(
        model=model,
        content=[
            {"type": "text", "text": "Transition from day to night"},
            {"type": "image_url", "image_url": {"url": f"{fixtures}/f/good2.jpg"}, "role": "first_frame"},
            {"type": "image_url", "image_url": {"url": f"{fixtures}/f/good.png"}, "role": "last_frame"},
        ],
        ratio="adaptive", resolution="720p", frames=120, return_last_frame=True, generate_audio=False,
    ),
    "reference_video_audio": dict(
        model=model,
        content=[
            {"type": "text", "text": "A scene of a person speaking"},
            {"type": "video_url", "video_url": {"url": f"{fixtures}/f/video.mp4"}, "role": "reference_video"},
            {"type": "audio_url", "audio_url": {"url": f"{fixtures}/f/audio.wav"}, "role": "reference_audio"},
        ],
        ratio="16:9", duration=5, camera_fixed=True, service_tier="default", execution_expires_after=7200,
        safety_identifier="user-42", priority=1,
    ),
}
ids = {}
for name, arguments in cases.items():
    created = client.content_generation.tasks.create(**arguments)
    ids[name] = created.id
for name, task_id in ids.items():
    task = wait(task_id)
    if task.status != "succeeded":
        raise SystemExit(f"{name}: {task.status} {task.error}")
    report["tasks"][name] = {
        "id": task.id, "model": task.model, "status": task.status, "resolution": task.resolution, "ratio": task.ratio,
        "duration": task.duration, "frames": task.frames, "framespersecond": task.framespersecond, "seed": task.seed,
        "generate_audio": task.generate_audio, "completion_tokens": task.usage.completion_tokens,
        "last_frame_url": task.content.last_frame_url if task.content else None,
        "file": download(task.content.video_url, name),
    }

listed = client.content_generation.tasks.list(page_num=1, page_size=2, status="succeeded")
report["list_succeeded"] = {"total": listed.total, "items": [item.id for item in listed.items]}
picked = client.content_generation.tasks.list(task_ids=[ids["t2v"], ids["reference_video_audio"]])
report["list_by_ids"] = sorted(item.id for item in picked.items)
report["list_queued_total"] = client.content_generation.tasks.list(status="queued").total

# A queued task is cancelled by DELETE; a finished one's record is removed.
queued = client.content_generation.tasks.create(model=model, content=[{"type": "text", "text": "never mind"}], duration=15, resolution="720p")
client.content_generation.tasks.delete(task_id=queued.id)
report["cancelled_status"] = client.content_generation.tasks.get(task_id=queued.id).status
client.content_generation.tasks.delete(task_id=ids["t2v"])
try:
    client.content_generation.tasks.get(task_id=ids["t2v"])
    raise SystemExit("a deleted task is still there")
except ArkNotFoundError as error:
    report["errors"]["deleted"] = {"status": error.status_code, "code": error.code}

try:
    client.content_generation.tasks.create(model=model, content=[{"type": "text", "text": "x"}], duration=99)
    raise SystemExit("duration 99 was accepted")
except ArkBadRequestError as error:
    report["errors"]["bad_duration"] = {"status": error.status_code, "code": error.code, "param": error.param, "message": error.message}

try:
    Ark(base_url=base_url, api_key="sk-sg-not-a-key", max_retries=0).content_generation.tasks.get(task_id=ids["i2v_first_last"])
    raise SystemExit("a wrong key was accepted")
except ArkAuthenticationError as error:
    report["errors"]["bad_key"] = {"status": error.status_code, "code": error.code}

print(json.dumps(report))
