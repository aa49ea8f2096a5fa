#!/usr/bin/env python3
"""Writes Seedgate's OpenAPI 3.1 document, Sources/SeedgateHTTP/Resources/openapi.json (served at
/openapi.json). The document is kept in the repository; this script is how it is written, so that the
error responses every route shares are written once. `scripts/openapi.py --check` fails when the file
is not what the script writes (scripts/test runs it).

Limits, defaults and enums are those of the seeds (seed 002 for generation) and dialects.md.
"""
import json
import pathlib
import sys

OUT = pathlib.Path(__file__).resolve().parent.parent / "Sources/SeedgateHTTP/Resources/openapi.json"

RATIOS = ["16:9", "9:16", "1:1", "4:3", "3:4", "21:9", "adaptive"]
RESOLUTIONS = ["480p", "720p", "1080p"]
APIMART_MODELS = ["doubao-seedance-2.0", "doubao-seedance-2.0-fast", "doubao-seedance-2.0-face", "doubao-seedance-2.0-fast-face"]
TOAPIS_MODELS = ["doubao-seedance-2-0", "doubao-seedance-2-0-fast", "doubao-seedance-2-0-face", "doubao-seedance-2-0-fast-face"]
CRUN_MODELS = [f"bytedance/seedance2-0{v}-{m}" for v in ["", "-fast", "-face", "-fast-face"] for m in ["t2v", "i2v", "r2v"]]
ARK_MODELS = ["doubao-seedance-2-0-260128", "doubao-seedance-2-0-fast-260128", "dreamina-seedance-2-0-260128", "dreamina-seedance-2-0-fast-260128"]


def string(description=None, **extra):
    schema = {"type": "string", **extra}
    if description:
        schema["description"] = description
    return schema


def integer(description=None, **extra):
    schema = {"type": "integer", **extra}
    if description:
        schema["description"] = description
    return schema


def boolean(description=None, default=False):
    return {"type": "boolean", "default": default, **({"description": description} if description else {})}


def obj(properties, required=(), description=None, additional=True):
    schema = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    if not additional:
        schema["additionalProperties"] = False
    if description:
        schema["description"] = description
    return schema


def array(items, description=None, **extra):
    return {"type": "array", "items": items, **extra, **({"description": description} if description else {})}


def ref(name):
    return {"$ref": f"#/components/schemas/{name}"}


URL = string("A public http(s) URL, or asset://<asset id> of an Active asset of the caller's", minLength=9, maxLength=4096,
             pattern="^(https?://[^/?#\\s]+[^\\s]*|asset://[A-Za-z0-9_-]+)$")
NAME = string(minLength=1, maxLength=64)
CALLBACK = string("A public http(s) URL, POSTed the task when it ends", format="uri", pattern="^https?://[^/?#\\s]+[^\\s]*$")


def not_both(a, b):
    """A JSON Schema clause: `a` and `b` are not both given (a null counts as not given)."""
    return {"not": {"properties": {a: {"not": {"type": "null"}}, b: {"not": {"type": "null"}}}, "required": [a, b]}}
PROMPT = string("At most 4000 characters; required when there is no image and no video input", maxLength=4000)
DURATION = integer("Seconds", minimum=4, maximum=15, default=5)
SEED = integer("-1 (or absent) picks one; the task shows the seed used", minimum=-1, maximum=4294967295)
TOOLS = array(obj({"type": string(enum=["web_search"])}, ["type"], additional=False), maxItems=1)
ERROR_DETAIL = obj({"code": string(), "message": string()}, ["code", "message"])

schemas = {
    # Error envelopes, one per dialect.
    "ApimartError": obj({"code": integer("The HTTP status"), "error": obj(
        {"code": string("A stable machine code"), "message": string("Starts with the field it is about"), "param": {"type": ["string", "null"]}},
        ["code", "message"])}, ["code", "error"], "apimart's error envelope"),
    "ToapisError": obj({"success": {"const": False}, "message": string(), "data": {"type": "null"},
                        "error": obj({"code": string(), "message": string(), "param": {"type": ["string", "null"]}})},
                       ["success", "message"], "toapis's envelope, with an OpenAI-style error beside it"),
    "CrunError": obj({"code": integer("422 for validation, else the HTTP status"), "message": string()}, ["code", "message"], "crun's envelope"),
    "ArkError": obj({"error": obj({"code": string("Ark's code, e.g. InvalidParameter"), "message": string(), "param": string(),
                                   "type": string()}, ["code", "message"])}, ["error"], "Ark's envelope"),
    # apimart
    "ApimartAssetSubmission": obj({
        "group": obj({"name": string(minLength=1, maxLength=64), "description": string(maxLength=300)}, ["name"], additional=False),
        "group_id": string("An existing group of the key's; or give group to make one"),
        "project_name": NAME, "asset_type": string(enum=["Image", "Video", "Audio"], default="Image"),
        "model": string(enum=["doubao-seedance-2.0", "doubao-seedance-2.0-fast"]),
        "assets": array(obj({"url": URL, "name": NAME}, ["url"], additional=False), minItems=1, maxItems=20),
        "url": URL, "name": NAME, "callback_url": CALLBACK,
    }, description="Seed 000: assets into a new or existing group, reviewed asynchronously", additional=False)
    | {"allOf": [not_both("group", "group_id"), not_both("assets", "url"), {"anyOf": [{"required": ["group"]}, {"required": ["group_id"]}]},
                 {"anyOf": [{"required": ["assets"]}, {"required": ["url"]}]}]},
    "ApimartReviewTask": obj({
        "id": string(), "status": string(enum=["processing", "completed", "failed"]), "progress": integer(minimum=0, maximum=100),
        "result": obj({"assets": array(ref("ApimartReviewAsset")), "usable_assets": array(ref("ApimartReviewAsset")),
                       "failed_assets": array(ref("ApimartReviewAsset")), "asset_url": string()}),
        "error": ERROR_DETAIL, "object": string(enum=["seedance.avatar.asset.task"]), "model": string(), "group_id": string(),
        "created": integer(), "completed": integer(), "webhook": ref("WebhookState"),
    }, ["id", "status", "progress"]),
    "ApimartReviewAsset": obj({"asset_id": string(), "asset_url": string(), "status": string(enum=["Processing", "Active", "Failed"]),
                               "name": string(), "error": ERROR_DETAIL}),
    "WebhookState": obj({"url": string(), "status": string(enum=["pending", "delivered", "failed"]), "attempts": integer(),
                         "last_status_code": integer(), "last_error": string(), "next_attempt_at": integer(), "delivered_at": integer()}),
    "ApimartGeneration": obj({
        "model": string(enum=APIMART_MODELS), "prompt": PROMPT, "duration": DURATION,
        "size": string("adaptive: the first input image's or video's aspect", enum=RATIOS, default="16:9"),
        "resolution": string("1080p only with doubao-seedance-2.0 and -face", enum=RESOLUTIONS, default="480p"),
        "seed": SEED, "generate_audio": boolean(), "return_last_frame": boolean(), "watermark": boolean(), "tools": TOOLS,
        "image_urls": array(URL, "One plain image alone is the first frame; otherwise reference images", minItems=1, maxItems=9),
        "image_with_roles": array(obj({"url": URL, "role": string(enum=["first_frame", "last_frame", "reference_image"])}, ["url", "role"],
                                      additional=False), "Not with image_urls", minItems=1, maxItems=9),
        "video_urls": array(URL, maxItems=3), "audio_urls": array(URL, "Only with reference images or videos", maxItems=3),
        "callback_url": CALLBACK,
    }, ["model"], "Seed 002", additional=False) | {"allOf": [not_both("image_urls", "image_with_roles")]},
    "ApimartSubmitted": obj({"code": integer(), "data": array(obj({"status": string(enum=["submitted"]), "task_id": string()}, ["task_id"]))},
                            ["code", "data"]),
    "ApimartVideoTask": obj({
        "id": string(), "status": string(enum=["pending", "processing", "completed", "failed", "cancelled"]),
        "progress": integer(minimum=0, maximum=100),
        "result": obj({"videos": array(obj({"url": array(string()), "expires_at": integer()})), "last_frame_url": string(), "expired": {"type": "boolean"}}),
        "error": ERROR_DETAIL, "created": integer(), "completed": integer(), "actual_time": integer(), "model": string(), "seed": integer(),
        "duration": integer(), "resolution": string(), "size": string(), "generate_audio": {"type": "boolean"},
        "return_last_frame": {"type": "boolean"}, "cost": integer(), "usage": obj({"completion_tokens": integer()}), "webhook": ref("WebhookState"),
    }, ["id", "status", "progress"]),
    "ApimartAccount": obj({"key_id": string(), "name": string(), "balance": integer(), "held": integer(), "available": integer(),
                           "spent": integer(), "tasks": obj({}), "rpm": integer(), "max_in_flight": integer()}),
    "Upload": obj({"id": string(), "url": string("A signed link, valid until expires_at"), "media_type": string(enum=["image", "video", "audio"]),
                   "format": string(), "size": integer(), "content_type": string(), "filename": string(), "width": integer(), "height": integer(),
                   "duration": {"type": "number"}, "expires_at": integer()}, ["id", "url", "media_type", "size", "expires_at"]),
    # toapis
    "ToapisGroupCreate": obj({"name": NAME, "description": string(maxLength=300), "project_name": NAME},
                             ["name"], additional=False),
    "ToapisAssetCreate": obj({"group_id": string(minLength=1), "asset_type": string(enum=["image", "video", "audio"]), "source_url": URL,
                              "name": NAME, "project_name": NAME, "callback_url": CALLBACK},
                             ["group_id", "asset_type", "source_url"], additional=False),
    "ToapisAsset": obj({"asset_id": string(), "group_id": string(), "asset_type": string(enum=["image", "video", "audio"]), "source_url": string(),
                        "status": string(enum=["processing", "active", "failed"]), "name": string(), "asset_url": string(), "error": ERROR_DETAIL,
                        "task_id": string(), "created_at": integer(), "updated_at": integer()}),
    "ToapisGeneration": obj({
        "model": string(enum=TOAPIS_MODELS, default="doubao-seedance-2-0"), "prompt": PROMPT, "duration": DURATION,
        "aspect_ratio": string(enum=RATIOS, default="16:9"),
        "image_with_roles": array(obj({"url": URL, "role": string(enum=["first_frame", "last_frame", "reference_image"])}, ["url", "role"],
                                      additional=False), minItems=1, maxItems=9),
        "video_with_roles": array(obj({"url": URL, "role": string(enum=["reference_video"])}, ["url"], additional=False), minItems=1, maxItems=3),
        "audio_with_roles": array(obj({"url": URL, "role": string(enum=["reference_audio"])}, ["url"], additional=False), minItems=1, maxItems=3),
        "metadata": obj({"resolution": string(enum=RESOLUTIONS, default="480p"), "generate_audio": boolean(), "seed": SEED,
                         "return_last_frame": boolean(), "watermark": boolean(), "tools": TOOLS}, additional=False),
        "callback_url": CALLBACK,
    }, ["aspect_ratio"], "toapis's body on the shared path: told apart from apimart's by its model names (dashes) and its own fields",
        additional=False),
    "ToapisTask": obj({
        "id": string(), "object": string(enum=["generation.task"]), "model": string(),
        "status": string(enum=["queued", "submitted", "in_progress", "completed", "failed"]), "progress": integer(),
        "created_at": integer(), "completed_at": integer(), "expires_at": integer(),
        "result": obj({"type": string(enum=["video"]), "video_url": string(), "videos": array(obj({"url": string()})), "last_frame_url": string()}),
        "error": ERROR_DETAIL, "prompt": string(), "duration": integer(), "aspect_ratio": string(), "metadata": obj({}), "cost": integer(),
    }, ["id", "object", "status"]),
    # crun
    "CrunAssetUpload": obj({"name": NAME, "asset_type": string(enum=["Image", "Video", "Audio"]), "asset_url": URL,
                            "callback_url": CALLBACK, "group_id": string("A group of the key's, e.g. a real-person group; default: the key's default group", minLength=1)},
                           ["name", "asset_url"], additional=False),
    # real-person verification (all three dialects)
    "LivenessOutcome": obj({"byted_token": string(), "verify_task_id": string(), "status": string(enum=["pending", "submitted", "verified", "failed", "expired"]),
                            "group_id": string("The LivenessFace group, once verified"), "group_type": string(), "project_name": string(),
                            "error": obj({"code": string(), "message": string()})}, ["byted_token", "status"]),
    "ToapisVerifyTask": obj({"id": string(), "object": string(), "status": string(enum=["pending", "submitted", "verified", "failed", "expired"]),
                             "h5_link": string(), "byted_token": string(), "expires_at": integer(), "callback_url": string(), "locale": string(),
                             "biz_id": string(), "group_id": string(), "error": obj({"code": string(), "message": string()}),
                             "created_at": integer(), "completed_at": integer()}, ["id", "status", "h5_link", "byted_token", "expires_at"]),
    "CrunAssetInfo": obj({"AssetId": string(), "Name": string(), "AssetType": string(), "Status": string(enum=["Processing", "Active", "Failed"]),
                          "URL": string(), "CreateTime": string(), "UpdateTime": string(), "GroupId": string(),
                          "Error": obj({"Code": string(), "Message": string()})}),
    "CrunCreateTask": obj({
        "model": string("-t2v takes no media; -i2v img_urls (1 = first frame, 2 = first and last); -r2v reference_*", enum=CRUN_MODELS),
        "callback_url": CALLBACK,
        "input": obj({
            "prompt": PROMPT, "resolution": string(enum=RESOLUTIONS, default="480p"),
            "aspect_ratio": string("auto = adaptive", enum=["16:9", "9:16", "1:1", "4:3", "3:4", "21:9", "auto"], default="16:9"),
            "duration": DURATION, "audio": boolean("Generate audio"), "return_last_frame": boolean(), "seed": SEED, "watermark": boolean(),
            "tools": TOOLS, "img_urls": array(URL, "i2v only", minItems=1, maxItems=2),
            "reference_images": array(URL, "r2v only", maxItems=9), "reference_videos": array(URL, "r2v only", maxItems=3),
            "reference_audios": array(URL, "r2v only", maxItems=3),
        }, additional=False),
    }, ["model", "input"], additional=False),
    "CrunTask": obj({
        "task_id": string(), "provider": string(), "model_version": string(), "status": string(enum=["running", "success", "failed"]),
        "progress": integer(), "param": obj({"model": string(), "callback_url": string(), "input": obj({})}), "create_at": string(format="date-time"),
        "result": {"oneOf": [{"type": "null"}, obj({"media_urls": array(string()), "last_frame_url": string(), "usage": obj({})})]},
        "error": ERROR_DETAIL, "duration_s": integer(), "complete_at": string(format="date-time"), "source": string(),
    }, ["task_id", "status"]),
    # Ark
    "ArkContentItem": {"oneOf": [
        obj({"type": {"const": "text"}, "text": PROMPT}, ["type", "text"], additional=False),
        obj({"type": {"const": "image_url"}, "image_url": obj({"url": URL}, ["url"], additional=False),
             "role": string(enum=["first_frame", "last_frame", "reference_image"])}, ["type", "image_url"], additional=False),
        obj({"type": {"const": "video_url"}, "video_url": obj({"url": URL}, ["url"], additional=False),
             "role": string(enum=["reference_video"])}, ["type", "video_url"], additional=False),
        obj({"type": {"const": "audio_url"}, "audio_url": obj({"url": URL}, ["url"], additional=False),
             "role": string(enum=["reference_audio"])}, ["type", "audio_url"], additional=False),
    ]},
    "ArkCreateTask": obj({
        "model": string("Ark's model ids, our public names, or names a models file gives", enum=ARK_MODELS + APIMART_MODELS),
        "content": array(ref("ArkContentItem"), minItems=1),
        "resolution": {"type": ["string", "null"], "enum": RESOLUTIONS + [None]}, "ratio": {"type": ["string", "null"], "enum": RATIOS + [None]},
        "duration": {"type": ["integer", "null"], "description": "4..15, or -1: the model picks", "minimum": -1, "maximum": 15},
        "frames": {"type": ["integer", "null"], "description": "Instead of duration; at 24 fps", "minimum": 96, "maximum": 360},
        "seed": {"type": ["integer", "null"], "minimum": -1, "maximum": 4294967295},
        **{name: {"type": ["boolean", "null"]} for name in ["camera_fixed", "watermark", "generate_audio", "return_last_frame", "draft"]},
        "tools": {"type": ["array", "null"], "items": obj({"type": string(enum=["web_search"])}, ["type"], additional=False), "maxItems": 1},
        "callback_url": {"type": ["string", "null"], "format": "uri", "pattern": "^https?://[^/?#\\s]+[^\\s]*$"},
        "service_tier": {"type": ["string", "null"], "enum": ["default", "flex", None]},
        "execution_expires_after": {"type": ["integer", "null"], "minimum": 3600, "maximum": 259200},
        "safety_identifier": {"type": ["string", "null"], "minLength": 1, "maxLength": 64},
        "priority": {"type": ["integer", "null"], "minimum": 0, "maximum": 100},
        "output_format": {"type": ["string", "null"], "enum": ["mp4", None]},
        "omni_reference_task_type": {"type": ["string", "null"]},
    }, ["model", "content"], "The official SDK's tasks.create body (it sends absent parameters as null)", additional=False)
    | {"allOf": [not_both("duration", "frames")]},
    "ArkTask": obj({
        "id": string(), "model": string(), "status": string(enum=["queued", "running", "succeeded", "failed", "cancelled", "expired"]),
        "error": {"oneOf": [{"type": "null"}, ERROR_DETAIL]},
        "content": {"oneOf": [{"type": "null"}, obj({"video_url": string(), "last_frame_url": string()})]},
        "usage": obj({"completion_tokens": integer(), "total_tokens": integer()}), "created_at": integer(), "updated_at": integer(),
        "seed": integer(), "resolution": string(), "ratio": string(), "duration": integer(), "frames": integer(), "framespersecond": integer(),
        "generate_audio": {"type": "boolean"}, "service_tier": string(), "execution_expires_after": integer(),
    }, ["id", "model", "status"]),
}


def nullable(schema):
    """The same schema, also taking null: Seedgate reads a null field as an absent one."""
    if "$ref" in schema or "oneOf" in schema or "anyOf" in schema or "const" in schema:
        return {"anyOf": [schema, {"type": "null"}]}
    schema = dict(schema)
    if isinstance(schema.get("type"), str):
        schema["type"] = [schema["type"], "null"]
    if "enum" in schema and None not in schema["enum"]:
        schema["enum"] = schema["enum"] + [None]
    return schema


def optional_nulls(schema):
    """Every optional property of `schema` (and of the objects inside it) also takes null."""
    if schema.get("type") == "object" and "properties" in schema:
        required = set(schema.get("required", []))
        schema["properties"] = {name: (optional_nulls(value) if name in required else nullable(optional_nulls(value)))
                                for name, value in schema["properties"].items()}
    if schema.get("type") == "array" and isinstance(schema.get("items"), dict):
        schema["items"] = optional_nulls(schema["items"])
    return schema


for name in ["ApimartAssetSubmission", "ApimartGeneration", "ToapisGroupCreate", "ToapisAssetCreate", "ToapisGeneration",
             "CrunAssetUpload", "CrunCreateTask"]:
    schemas[name] = optional_nulls(schemas[name])


def json_body(schema):
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def ok(schema, description="OK", example=None):
    content = {"schema": schema}
    if example is not None:
        content["example"] = example
    return {"description": description, "content": {"application/json": content}}


ERROR_STATUSES = {
    "400": "The request breaks a rule; the message and param name the field",
    "401": "Missing, unknown or revoked API key",
    "402": "Not enough credits",
    "403": "Forbidden",
    "404": "No such resource for this key",
    "405": "Method not allowed",
    "409": "Conflict (idempotency key reused, task not cancellable)",
    "413": "Request body over 1 MB",
    "422": "Validation failed (crun)",
    "429": "Rate or in-flight limit; see Retry-After",
    "500": "Internal error; nothing leaks",
    "503": "A store or upstream could not be reached",
}


def errors(schema_name):
    schema = ref(schema_name) if isinstance(schema_name, str) else schema_name
    return {status: {"description": text, "content": {"application/json": {"schema": schema}},
                     "headers": {"Retry-After": {"schema": {"type": "integer"}}} if status == "429" else {}}
            for status, text in ERROR_STATUSES.items()}


def op(summary, tag, responses, error_schema, body=None, parameters=None, security=True, description=None):
    operation = {"summary": summary, "tags": [tag], "responses": {**errors(error_schema), **responses}}
    if description:
        operation["description"] = description
    if body is not None:
        operation["requestBody"] = json_body(body)
    if parameters:
        operation["parameters"] = parameters
    if not security:
        operation["security"] = []
    return operation


def path_param(name, description="An id"):
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}, "description": description}


def query(name, schema, required=False, description=None):
    parameter = {"name": name, "in": "query", "required": required, "schema": schema}
    if description:
        parameter["description"] = description
    return parameter


def envelope(data, code_schema=None):
    return obj({"code": integer(), "data": data}, ["code", "data"])


APIMART, TOAPIS, CRUN, ARK = "apimart", "toapis", "crun", "ark"
TOAPIS_BASE = "/v1/videos/doubao-seedance-2-0/private-avatar"
paths = {
    "/v1/seedance2/private-avatar": {"post": op("Submit assets for review (seed 000)", APIMART, {"200": ok(envelope(ref("ApimartReviewTask")))},
                                                 "ApimartError", ref("ApimartAssetSubmission"))},
    "/v1/seedance2/real-avatar": {"post": op(
        "Real-person verification (apimart): start a session, trade its token for the group, or submit assets into the group", APIMART,
        {"200": ok(envelope({"anyOf": [obj({"id": string(), "status": string()}, ["id", "status"]), ref("LivenessOutcome"), ref("ApimartReviewTask")]}))},
        "ApimartError", {"oneOf": [optional_nulls(branch) for branch in [
            obj({"callback_url": string(format="uri"), "project_name": string(minLength=1, maxLength=64)}, ["callback_url"], additional=False),
            obj({"byted_token": string(minLength=1), "project_name": string(minLength=1, maxLength=64)}, ["byted_token"], additional=False),
            obj({"group_id": string(minLength=1), "project_name": string(minLength=1, maxLength=64),
                 "asset_type": string(enum=["Image", "Video", "Audio", "image", "video", "audio"], default="Video"),
                 "assets": array(obj({"url": string(minLength=1), "name": string(minLength=1, maxLength=64)}, ["url"], additional=False), minItems=1, maxItems=20),
                 "url": string(minLength=1), "name": string(minLength=1, maxLength=64), "model": string(), "callback_url": string(format="uri")},
                ["group_id"], additional=False),
        ]]},
        description="The session's task is read at GET /v1/tasks/{id} (result.byted_token, result.h5_link); the person opens the link; "
                    "callback_url receives the outcome.")},
    "/v1/videos/generations": {"post": op(
        "Generate a video (apimart's body, seed 002; or toapis's, told apart by the body)", APIMART,
        {"200": ok({"anyOf": [ref("ApimartSubmitted"), ref("ToapisTask")]}, example={"code": 200, "data": [{"status": "submitted", "task_id": "task_01KQ7Y6Q2V7W8X9Y0Z1A2B3C4D"}]})},
        {"anyOf": [ref("ApimartError"), ref("ToapisError")]}, {"oneOf": [ref("ApimartGeneration"), ref("ToapisGeneration")]},
        parameters=[{"name": "Idempotency-Key", "in": "header", "required": False, "schema": {"type": "string", "minLength": 1, "maxLength": 255}}],
        description="Answers at once; the video is made in the background. Poll GET /v1/tasks/{id}.")},
    "/v1/tasks": {"get": op("List the key's video tasks, newest first", APIMART,
                            {"200": ok(envelope(obj({"items": array(ref("ApimartVideoTask")), "has_more": {"type": "boolean"}, "next_cursor": string()})))},
                            "ApimartError", parameters=[
                                query("status", string(enum=["pending", "processing", "completed", "failed", "cancelled"])),
                                query("limit", integer(minimum=1, maximum=100, default=20)), query("cursor", string())])},
    "/v1/tasks/{id}": {"get": op("A video, review or verification task of the key's", APIMART,
                                 {"200": ok(envelope({"anyOf": [ref("ApimartVideoTask"), ref("ApimartReviewTask"), obj({
                                     "id": string(), "status": string(), "object": {"const": "seedance.real_avatar.session"},
                                     "result": obj({"byted_token": string(), "h5_link": string(), "expires_at": integer(), "verification": ref("LivenessOutcome")})},
                                     ["id", "status", "result"])]}))}, "ApimartError",
                                 parameters=[path_param("id")])},
    "/v1/tasks/{id}/cancel": {"post": op("Cancel a pending or processing video task", APIMART, {"200": ok(envelope(ref("ApimartVideoTask")))},
                                         "ApimartError", parameters=[path_param("id")])},
    "/v1/uploads": {"post": {
        **op("Upload a file from your machine; use the returned url wherever a media URL goes (by this key only, until it expires)", APIMART,
             {"200": ok(envelope(ref("Upload")))}, "ApimartError",
             parameters=[query("type", string(enum=["image", "video", "audio", "Image", "Video", "Audio"]), description="Refuse the file unless it is this type"),
                         query("filename", string(maxLength=255))]),
        "requestBody": {"required": True, "description": "The file as the raw body, or the first file of a multipart form. Images up to 30 MB, "
                                                          "videos 50 MB, audio 15 MB; streamed, never held in memory whole",
                        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
                                    "multipart/form-data": {"schema": obj({"file": {"type": "string", "format": "binary"}}, ["file"])}}},
    }},
    "/v1/account": {"get": op("The key's balance, holds, spending and limits", APIMART, {"200": ok(envelope(ref("ApimartAccount")))}, "ApimartError")},
    f"{TOAPIS_BASE}/groups": {"post": op("Create a group (seed 001)", TOAPIS, {"200": ok(obj({"success": {"const": True}, "message": string(), "data": obj({})}))},
                                         "ToapisError", ref("ToapisGroupCreate"))},
    f"{TOAPIS_BASE}/assets": {"post": op("Upload one asset into a group (seed 001)", TOAPIS,
                                         {"200": ok(obj({"success": {"const": True}, "message": string(), "data": ref("ToapisAsset")}))},
                                         "ToapisError", ref("ToapisAssetCreate"))},
    f"{TOAPIS_BASE}/assets/{{asset_id}}": {"get": op("An asset's status (seed 001)", TOAPIS,
                                                      {"200": ok(obj({"success": {"const": True}, "message": string(), "data": ref("ToapisAsset")}))},
                                                      "ToapisError", parameters=[path_param("asset_id")])},
    "/v1/videos/doubao-seedance-2-0/real-avatar/verify-tasks": {"post": op(
        "Start a real-person verification (toapis)", TOAPIS, {"200": ok(obj({"success": {"const": True}, "message": string(), "data": ref("ToapisVerifyTask")}))},
        "ToapisError", optional_nulls(obj({"callback_url": string(format="uri"), "locale": string(minLength=1, maxLength=16),
                                           "biz_id": string(minLength=1, maxLength=64), "project_name": string(minLength=1, maxLength=64)}, additional=False)))},
    "/v1/videos/doubao-seedance-2-0/real-avatar/verify-tasks/{id}": {"get": op(
        "A verification of the key's (toapis)", TOAPIS, {"200": ok(obj({"success": {"const": True}, "message": string(), "data": ref("ToapisVerifyTask")}))},
        "ToapisError", parameters=[path_param("id")])},
    "/v1/videos/doubao-seedance-2-0/real-avatar/verify-results": {"get": op(
        "A verification's result by its token: the real-person group (toapis)", TOAPIS,
        {"200": ok(obj({"success": {"const": True}, "message": string(), "data": ref("LivenessOutcome")}))},
        "ToapisError", parameters=[query("byted_token", string(minLength=1), True)])},
    "/api/v1/client/job/visual-validate-session": {"post": op(
        "Start a real-person verification (crun)", CRUN,
        {"200": ok(obj({"code": integer(), "message": string(), "data": obj({"BytedToken": string(), "H5Link": string(), "CallbackURL": string(),
                                                                               "TaskId": string(), "ExpiresAt": integer()})}))},
        "CrunError", optional_nulls(obj({"callback_url": string(format="uri"), "project_name": string(minLength=1, maxLength=64)}, additional=False)))},
    "/api/v1/client/job/visual-validate-result": {"get": op(
        "A verification's result by its token (crun; resultCode 10000 once verified)", CRUN,
        {"200": ok(obj({"code": integer(), "message": string(), "data": obj({"resultCode": integer(), "Status": string(), "GroupId": string(),
                                                                               "GroupType": string(), "BytedToken": string(), "TaskId": string()})}))},
        "CrunError", parameters=[query("byted_token", string(minLength=1), True)])},
    "/v1/videos/generations/{task_id}": {"get": op("toapis's task view of any task of the key's", TOAPIS, {"200": ok(ref("ToapisTask"))},
                                                    "ToapisError", parameters=[path_param("task_id")])},
    "/api/v1/client/job/asset-upload": {"post": op("Upload an asset into the key's default group (seed 004)", CRUN,
                                                    {"200": ok(obj({"code": integer(), "message": string(), "data": obj({"AssetId": string()})}))},
                                                    "CrunError", ref("CrunAssetUpload"))},
    "/api/v1/client/job/asset-info": {"get": op("An asset's status (seed 004)", CRUN,
                                                 {"200": ok(obj({"code": integer(), "message": string(), "data": ref("CrunAssetInfo")}))},
                                                 "CrunError", parameters=[query("asset_id", string(minLength=1), True)])},
    "/api/v1/client/job/CreateTask": {"post": op("Generate a video (crun)", CRUN,
                                                 {"200": ok(obj({"code": integer(), "message": string(), "data": obj({"task_id": string()})}))},
                                                 "CrunError", ref("CrunCreateTask"))},
    "/api/v1/client/job/TaskInfo": {"get": op("crun's task view of any task of the key's", CRUN,
                                              {"200": ok(obj({"code": integer(), "message": string(), "data": ref("CrunTask")}))},
                                              "CrunError", parameters=[query("task_id", string(minLength=1), True)])},
    "/api/v3/contents/generations/tasks": {
        "post": op("Create a task (Ark's API, for the official Ark SDKs)", ARK, {"200": ok(obj({"id": string()}, ["id"]))}, "ArkError", ref("ArkCreateTask")),
        "get": op("List the key's tasks (Ark's API)", ARK, {"200": ok(obj({"items": array(ref("ArkTask")), "total": integer()}, ["items", "total"]))},
                  "ArkError", parameters=[
                      query("page_num", integer(minimum=1, maximum=100000, default=1)), query("page_size", integer(minimum=1, maximum=500, default=10)),
                      query("filter.status", string(enum=["queued", "running", "succeeded", "failed", "cancelled", "expired"])),
                      query("filter.task_ids", array(string()), description="Repeated"),
                      query("filter.model", string(enum=ARK_MODELS + APIMART_MODELS)),
                      query("filter.service_tier", string(enum=["default", "flex"]))]),
    },
    "/api/v3/contents/generations/tasks/{id}": {
        "get": op("A task (Ark's API)", ARK, {"200": ok(ref("ArkTask"))}, "ArkError", parameters=[path_param("id")]),
        "delete": op("Cancel an unfinished task, or delete a finished task's record (Ark's API)", ARK, {"200": ok(obj({}))}, "ArkError",
                     parameters=[path_param("id")]),
    },
    "/files/{key}": {
        "get": op("A result file by signed link (Range supported)", "results",
                  {"200": {"description": "The file", "content": {"video/mp4": {}, "image/png": {}}},
                   "206": {"description": "Part of the file", "content": {"video/mp4": {}, "image/png": {}}},
                   "416": {"description": "Range not satisfiable"}},
                  "ApimartError", parameters=[path_param("key", "The file's key (videos/<task>.mp4, frames/<task>.png)"),
                                              query("expires", integer(), True), query("sig", string(), True)], security=False),
        "head": op("A result file's headers", "results", {"200": {"description": "The file's headers"}, "206": {"description": "Part"},
                                                           "416": {"description": "Range not satisfiable"}},
                   "ApimartError", parameters=[path_param("key"), query("expires", integer(), True), query("sig", string(), True)], security=False),
    },
    "/upstream/ark/{task}/{token}": {"post": op(
        "Ark's callback for a task Seedgate submitted upstream (internal: only Ark calls it; the token is the credential)", "internal",
        {"200": ok(obj({}))}, "ApimartError", obj({}), parameters=[path_param("task"), path_param("token")], security=False)},
    "/health": {"get": {"summary": "The process answers", "tags": ["health"], "security": [], "responses": {"200": {"description": "ok", "content": {"text/plain": {"schema": string()}}}}}},
    "/health/live": {"get": {"summary": "The process answers", "tags": ["health"], "security": [], "responses": {"200": ok(obj({"status": string()}))}}},
    "/health/ready": {"get": {"summary": "The store answers with every migration applied, and the blob store is reachable", "tags": ["health"],
                              "security": [], "responses": {"200": ok(obj({"status": string(), "store": string(), "blob_store": string()})),
                                                            "503": ok(obj({"status": string(), "store": string(), "blob_store": string()}), "Not ready")}}},
    "/openapi.json": {"get": {"summary": "This document", "tags": ["health"], "security": [], "responses": {"200": ok(obj({}))}}},
}

def pointer(path, method):
    return "#/paths/" + path.replace("~", "~0").replace("/", "~1") + "/" + method


def link(source, method, target_path, target_method, parameters):
    """Tells a fuzzer where the id a response carries can be used next (stateful testing)."""
    links = paths[source][method]["responses"]["200"].setdefault("links", {})
    name = (target_method + target_path).replace("/", "_").replace("{", "").replace("}", "").replace(".", "_").replace("-", "_")
    links[name] = {"operationRef": pointer(target_path, target_method), "parameters": parameters}


ARK_TASKS = "/api/v3/contents/generations/tasks"
for target, method, parameter in [(f"{ARK_TASKS}/{{id}}", "get", {"id": "$response.body#/id"}),
                                  (f"{ARK_TASKS}/{{id}}", "delete", {"id": "$response.body#/id"}),
                                  ("/v1/tasks/{id}", "get", {"id": "$response.body#/id"}),
                                  ("/v1/videos/generations/{task_id}", "get", {"task_id": "$response.body#/id"}),
                                  ("/api/v1/client/job/TaskInfo", "get", {"query.task_id": "$response.body#/id"})]:
    link(ARK_TASKS, "post", target, method, parameter)
for target, method, parameter in [("/v1/tasks/{id}", "get", {"id": "$response.body#/data/0/task_id"}),
                                  ("/v1/tasks/{id}/cancel", "post", {"id": "$response.body#/data/0/task_id"}),
                                  (f"{ARK_TASKS}/{{id}}", "get", {"id": "$response.body#/data/0/task_id"})]:
    link("/v1/videos/generations", "post", target, method, parameter)
for target, method, parameter in [("/api/v1/client/job/TaskInfo", "get", {"query.task_id": "$response.body#/data/task_id"}),
                                  ("/v1/videos/generations/{task_id}", "get", {"task_id": "$response.body#/data/task_id"})]:
    link("/api/v1/client/job/CreateTask", "post", target, method, parameter)
link("/v1/seedance2/private-avatar", "post", "/v1/tasks/{id}", "get", {"id": "$response.body#/data/id"})
link(f"{TOAPIS_BASE}/assets", "post", f"{TOAPIS_BASE}/assets/{{asset_id}}", "get", {"asset_id": "$response.body#/data/asset_id"})
link(f"{TOAPIS_BASE}/assets", "post", "/api/v1/client/job/asset-info", "get", {"query.asset_id": "$response.body#/data/asset_id"})
link("/api/v1/client/job/asset-upload", "post", "/api/v1/client/job/asset-info", "get", {"query.asset_id": "$response.body#/data/AssetId"})
link("/api/v1/client/job/asset-upload", "post", f"{TOAPIS_BASE}/assets/{{asset_id}}", "get", {"asset_id": "$response.body#/data/AssetId"})

document = {
    "openapi": "3.1.0",
    "info": {"title": "Seedgate", "version": "1.0.0",
             "description": "A self-hostable gateway for Seedance 2.0 video generation, in four wire dialects: apimart, toapis, crun "
                            "and Ark's own task API. Every error names the field and the rule, in the dialect's own envelope."},
    "servers": [{"url": "http://127.0.0.1:8080"}],
    "security": [{"bearer": []}, {"apiKey": []}],
    "tags": [{"name": t} for t in [APIMART, TOAPIS, CRUN, ARK, "results", "health", "internal"]],
    "paths": paths,
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "Authorization: Bearer sk-sg-..."},
                            "apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key", "description": "x-api-key: sk-sg-... (every route takes either)"}},
        "schemas": schemas,
    },
}

text = json.dumps(document, indent=1, sort_keys=False) + "\n"
if "--check" in sys.argv:
    if not OUT.exists() or OUT.read_text() != text:
        sys.exit(f"{OUT} is not what scripts/openapi.py writes: run scripts/openapi.py and commit the result")
else:
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text)
    print(f"wrote {OUT}")
