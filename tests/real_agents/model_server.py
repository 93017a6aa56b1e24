#!/usr/bin/env python3
"""Scripted model server for the real-CLI compatibility matrix (python3 stdlib only).

    python3 model_server.py --port PORT [--log requests.jsonl]

PORT 0 picks a free port. Prints `listening on 127.0.0.1:<port>` once ready.

Wire formats:
  * Anthropic Messages      POST /v1/messages (+ /v1/messages/count_tokens)      -> claude
  * OpenAI Responses        POST /v1/responses (SSE)                               -> codex
  * OpenAI Chat Completions POST /v1/chat/completions (stream / non-stream),
                            GET /v1/models                                         -> opencode, aider
  * Gemini                  POST /v1beta/models/{model}:streamGenerateContent|generateContent|countTokens
                                                                                   -> gemini

Script (same for every format), for the task "create hello.txt containing hi":
  1. first turn of the main conversation: a tool call that writes hello.txt = "hi\\n" with the CLI's
     own write tool (picked from the tools the request offers); aider (no tools) gets a reply in its
     edit format (whole / SEARCH-REPLACE).
  2. once the conversation holds the tool result: final text "Created hello.txt containing hi."
  Requests that are not the main conversation (titles, summaries, commit messages, JSON side
  queries) get a short plain-text (or schema-shaped JSON) answer.
  Every answer reports usage: input 1234, output 56.
  Model name containing err401 / err429 / err500 -> that HTTP error in the format's error JSON.
"""

import argparse
import gzip
import json
import os
import re
import sys
import threading
import time
import uuid
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse, unquote

INPUT_TOKENS = 1234
OUTPUT_TOKENS = 56
FINAL_TEXT = "Created hello.txt containing hi."
SIDE_TEXT = "Create hello.txt"
FILE_NAME = "hello.txt"
FILE_CONTENT = "hi\n"
SHELL_CMD = "printf 'hi\\n' > hello.txt"
PATCH = "*** Begin Patch\n*** Add File: hello.txt\n+hi\n*** End Patch\n"

LOG_LOCK = threading.Lock()
LOG_PATH = None
LOG_BODIES = False


def new_id(prefix):
    return prefix + uuid.uuid4().hex[:24]


# --------------------------------------------------------------------------- errors

def error_kind(model):
    m = (model or "").lower()
    for kind in ("err401", "err429", "err500"):
        if kind in m:
            return kind
    return None


ERROR_STATUS = {"err401": 401, "err429": 429, "err500": 500}


def error_body(fmt, kind):
    if fmt == "anthropic":
        t, msg = {
            "err401": ("authentication_error", "invalid x-api-key"),
            "err429": ("rate_limit_error", "Rate limit exceeded, please retry later"),
            "err500": ("api_error", "Internal server error"),
        }[kind]
        return {"type": "error", "error": {"type": t, "message": msg}}
    if fmt == "gemini":
        return {"error": {
            "err401": {"code": 401, "message": "API key not valid. Please pass a valid API key.",
                       "status": "UNAUTHENTICATED"},
            "err429": {"code": 429, "message": "Resource has been exhausted (e.g. check quota).",
                       "status": "RESOURCE_EXHAUSTED"},
            "err500": {"code": 500, "message": "Internal error encountered.", "status": "INTERNAL"},
        }[kind]}
    # openai (chat completions and responses)
    return {"error": {
        "err401": {"message": "Incorrect API key provided", "type": "invalid_request_error",
                   "param": None, "code": "invalid_api_key"},
        "err429": {"message": "Rate limit reached, please try again in 1s", "type": "requests",
                   "param": None, "code": "rate_limit_exceeded"},
        "err500": {"message": "The server had an error while processing your request",
                   "type": "server_error", "param": None, "code": None},
    }[kind]}


# --------------------------------------------------------------------------- request analysis

CWD_PATTERNS = [
    r"<cwd>\s*([^<\n]+?)\s*</cwd>",
    r"Primary working directory:\s*(/[^\s`'\"]*)",
    r"[Ww]orking directory:\s*(/[^\s`'\"]*)",
    r"currently working in the directory:?\s*(/[^\s`'\"]*)",
    r"[Ww]orkspace [Dd]irector(?:y|ies):?\**:?\s*(?:-\s*)?(/[^\s`'\"]*)",
    r"[Cc]urrent (?:working )?directory(?: is)?:?\s*(/[^\s`'\"]*)",
    r"[Pp]roject [Dd]irectory:?\s*(/[^\s`'\"]*)",
]


def collect_strings(obj, out):
    if isinstance(obj, str):
        out.append(obj)
    elif isinstance(obj, dict):
        for v in obj.values():
            collect_strings(v, out)
    elif isinstance(obj, list):
        for v in obj:
            collect_strings(v, out)
    return out


def conversation_text(body):
    """All prose of the request except tool definitions (system first)."""
    parts = []
    for key in ("system", "instructions", "systemInstruction", "system_instruction"):
        if key in body:
            collect_strings(body[key], parts)
    for key in ("messages", "input", "contents"):
        if key in body:
            collect_strings(body[key], parts)
    return "\n".join(parts)


def find_cwd(text):
    for pat in CWD_PATTERNS:
        m = re.search(pat, text)
        if m:
            p = m.group(1).strip().rstrip(".,;:)")
            if p.startswith("/"):
                return p
    return None


def tool_list(body, fmt):
    """[(name, kind, schema)] where kind is 'function' or 'custom'."""
    out = []
    for t in body.get("tools") or []:
        if not isinstance(t, dict):
            continue
        if fmt == "gemini":
            for fd in t.get("functionDeclarations") or t.get("function_declarations") or []:
                schema = fd.get("parametersJsonSchema") or fd.get("parameters") or {}
                out.append((fd.get("name"), "function", schema))
            continue
        if "function" in t and isinstance(t["function"], dict):  # chat completions
            f = t["function"]
            out.append((f.get("name"), "function", f.get("parameters") or {}))
        elif t.get("type") == "custom":  # responses freeform tool
            out.append((t.get("name"), "custom", t.get("format") or {}))
        elif "input_schema" in t:  # anthropic
            out.append((t.get("name"), "function", t.get("input_schema") or {}))
        elif "name" in t:  # responses function tool
            out.append((t.get("name"), "function", t.get("parameters") or {}))
    return [x for x in out if x[0]]


def props(schema):
    if not isinstance(schema, dict):
        return {}
    p = schema.get("properties")
    return p if isinstance(p, dict) else {}


WRITE_TOOL_NAMES = ["Write", "write_file", "write", "create_file", "WriteFile", "str_replace_based_edit_tool"]
SHELL_TOOL_NAMES = ["exec_command", "shell", "shell_command", "local_shell", "run_shell_command", "bash", "Bash"]


def plan_tool_call(tools, cwd):
    """Return (name, kind, args_or_input) or None."""
    by_name = {n: (n, k, s) for n, k, s in tools}
    abspath = os.path.join(cwd, FILE_NAME) if cwd else FILE_NAME
    if "apply_patch" in by_name:
        n, k, s = by_name["apply_patch"]
        if k == "custom":
            return (n, "custom", PATCH)
        pr = props(s)
        key = "input" if "input" in pr or not pr else next(iter(pr))
        return (n, "function", {key: PATCH})
    for name in WRITE_TOOL_NAMES:
        if name not in by_name:
            continue
        n, k, s = by_name[name]
        pr = props(s)
        args = {}
        path_key = None
        for cand in ("file_path", "filePath", "path", "absolute_path", "filename", "file"):
            if cand in pr:
                path_key = cand
                break
        if path_key is None:
            path_key = next((p for p in pr if "path" in p.lower() or "file" in p.lower()), "file_path")
        args[path_key] = abspath
        content_key = next((c for c in ("content", "contents", "text", "file_text") if c in pr), "content")
        args[content_key] = FILE_CONTENT
        if name == "str_replace_based_edit_tool":
            args["command"] = "create"
        return (n, "function", args)
    for name in SHELL_TOOL_NAMES:
        if name not in by_name:
            continue
        n, k, s = by_name[name]
        pr = props(s)
        if k == "custom":
            return (n, "custom", SHELL_CMD)
        args = {}
        if "cmd" in pr:
            args["cmd"] = SHELL_CMD
        elif "command" in pr:
            typ = pr["command"].get("type") if isinstance(pr["command"], dict) else None
            args["command"] = ["bash", "-lc", SHELL_CMD] if typ == "array" else SHELL_CMD
        else:
            args["command"] = SHELL_CMD
        if "workdir" in pr and cwd:
            args["workdir"] = cwd
        if "description" in pr:
            args["description"] = "Create hello.txt"
        return (n, "function", args)
    return None


def has_tool_result(body, fmt):
    if fmt == "anthropic":
        for m in body.get("messages") or []:
            c = m.get("content")
            if isinstance(c, list) and any(isinstance(b, dict) and b.get("type") == "tool_result" for b in c):
                return True
        return False
    if fmt == "responses":
        inp = body.get("input")
        if isinstance(inp, list):
            return any(isinstance(i, dict) and i.get("type") in (
                "function_call_output", "custom_tool_call_output", "local_shell_call_output",
                "tool_search_output") for i in inp)
        return False
    if fmt == "chat":
        return any(m.get("role") in ("tool", "function") for m in body.get("messages") or [])
    if fmt == "gemini":
        for c in body.get("contents") or []:
            for p in c.get("parts") or []:
                if isinstance(p, dict) and ("functionResponse" in p or "function_response" in p):
                    return True
        return False
    return False


def system_text(body):
    parts = []
    for key in ("system", "instructions", "systemInstruction", "system_instruction"):
        if key in body:
            collect_strings(body[key], parts)
    for m in body.get("messages") or []:
        if isinstance(m, dict) and m.get("role") in ("system", "developer"):
            collect_strings(m.get("content"), parts)
    return "\n".join(parts)


def aider_edit_format(body):
    s = system_text(body)
    if "*file listing*" in s:
        return "whole"
    if "SEARCH/REPLACE" in s:
        return "diff"
    if "unified diff" in s.lower() or "udiff" in s:
        return "udiff"
    return None


def aider_reply(fmt_name):
    if fmt_name == "whole":
        return "I will create the file.\n\nhello.txt\n```\nhi\n```\n"
    if fmt_name == "udiff":
        return ("I will create the file.\n\n```diff\n--- /dev/null\n+++ hello.txt\n@@ -0,0 +1 @@\n+hi\n```\n")
    return ("I will create the file.\n\nhello.txt\n```\n<<<<<<< SEARCH\n=======\nhi\n>>>>>>> REPLACE\n```\n")


def json_schema_of(body):
    """Gemini / OpenAI structured-output schema if the request asks for JSON."""
    gc = body.get("generationConfig") or body.get("generation_config") or {}
    for k in ("responseJsonSchema", "responseSchema", "response_json_schema", "response_schema"):
        if gc.get(k):
            return gc[k]
    if gc.get("responseMimeType") == "application/json":
        return {}
    rf = body.get("response_format")
    if isinstance(rf, dict) and rf.get("type") == "json_schema":
        return (rf.get("json_schema") or {}).get("schema") or {}
    return None


def fill_schema(schema, name=""):
    if not isinstance(schema, dict):
        return SIDE_TEXT
    if "enum" in schema and schema["enum"]:
        vals = schema["enum"]
        if "user" in vals:
            return "user"
        return vals[0]
    t = schema.get("type")
    if isinstance(t, list):
        t = next((x for x in t if x != "null"), "string")
    t = (t or "").lower()
    if t == "object" or "properties" in schema:
        return {k: fill_schema(v, k) for k, v in (schema.get("properties") or {}).items()}
    if t == "array":
        return []
    if t in ("integer", "number"):
        return 10
    if t == "boolean":
        return False
    if "model" in name.lower() and "choice" in name.lower():
        return "flash"
    return "simple task: create one small file"


def decide(body, fmt, model):
    """-> dict(kind=error|tool|final|aider|text|json, ...)"""
    ek = error_kind(model)
    if ek:
        return {"kind": "error", "error": ek}
    tools = tool_list(body, fmt)
    if tools:
        if has_tool_result(body, fmt):
            return {"kind": "final", "text": FINAL_TEXT}
        cwd = find_cwd(conversation_text(body))
        call = plan_tool_call(tools, cwd)
        if call:
            return {"kind": "tool", "name": call[0], "tool_kind": call[1], "args": call[2], "cwd": cwd}
        return {"kind": "text", "text": SIDE_TEXT}
    schema = json_schema_of(body)
    if schema is not None:
        return {"kind": "json", "text": json.dumps(fill_schema(schema))}
    if fmt == "chat":
        ef = aider_edit_format(body)
        if ef:
            return {"kind": "aider", "text": aider_reply(ef), "edit_format": ef}
    return {"kind": "text", "text": SIDE_TEXT}


def answer_label(d):
    if d["kind"] == "tool":
        return "tool:" + d["name"]
    if d["kind"] == "error":
        return d["error"]
    if d["kind"] == "aider":
        return "aider:" + d["edit_format"]
    return d["kind"]


# --------------------------------------------------------------------------- handler

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ScriptedModel/1.0"

    def log_message(self, fmt, *args):  # keep stderr quiet
        pass

    # ---- plumbing
    def read_body(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            data = b""
            while True:
                line = self.rfile.readline().strip()
                size = int(line.split(b";")[0] or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                data += self.rfile.read(size)
                self.rfile.readline()
        else:
            n = int(self.headers.get("Content-Length") or 0)
            data = self.rfile.read(n) if n else b""
        enc = (self.headers.get("Content-Encoding") or "").lower()
        if enc == "gzip":
            data = gzip.decompress(data)
        elif enc == "deflate":
            data = zlib.decompress(data)
        return data

    def log(self, model, answer, status, extra=None):
        if not LOG_PATH:
            return
        rec = {"t": round(time.time(), 3), "method": self.command, "path": self.path,
               "model": model, "answer": answer, "status": status}
        if extra:
            rec.update(extra)
        if LOG_BODIES and getattr(self, "_body", None) is not None:
            rec["body"] = self._body
        with LOG_LOCK:
            with open(LOG_PATH, "a") as f:
                f.write(json.dumps(rec) + "\n")

    def send_json(self, status, obj, headers=None):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def start_sse(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def chunk(self, s):
        data = s.encode()
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def end_sse(self):
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def sse(self, obj, event=None):
        s = ""
        if event:
            s += "event: %s\n" % event
        s += "data: %s\n\n" % json.dumps(obj)
        self.chunk(s)

    def send_error_for(self, fmt, kind):
        status = ERROR_STATUS[kind]
        headers = {"Retry-After": "1"} if kind == "err429" else None
        if fmt == "anthropic":
            headers = dict(headers or {})
            headers["request-id"] = new_id("req_")
        self.send_json(status, error_body(fmt, kind), headers)
        return status

    # ---- verbs
    def do_HEAD(self):
        self.send_json(200, {})

    def do_GET(self):
        path = urlparse(self.path).path
        if (self.headers.get("Upgrade") or "").lower() == "websocket":
            # no websocket support: refuse so clients fall back to HTTP right away
            self.send_json(426, {"error": {"message": "websocket not supported", "type": "invalid_request_error",
                                           "code": "websocket_not_supported"}})
            self.log(None, "websocket_refused", 426)
            return
        if path.rstrip("/") in ("/v1/models", "/models", "/v1beta/models"):
            models = ["test", "gpt-5.5", "err401", "err429", "err500"]
            if path.startswith("/v1beta"):
                self.send_json(200, {"models": [{"name": "models/" + m, "displayName": m,
                                                 "supportedGenerationMethods": ["generateContent"]}
                                                for m in models]})
            else:
                self.send_json(200, {"object": "list",
                                     "data": [{"id": m, "object": "model", "created": 0, "owned_by": "scripted"}
                                              for m in models]})
            self.log(None, "models", 200)
            return
        if path in ("/", "/health", "/healthz"):
            self.send_json(200, {"ok": True})
            self.log(None, "health", 200)
            return
        self.send_json(404, {"error": {"message": "not found: " + path, "type": "not_found"}})
        self.log(None, "not_found", 404)

    def do_POST(self):
        try:
            raw = self.read_body()
            body = json.loads(raw) if raw.strip() else {}
        except Exception as e:  # noqa: BLE001
            self.send_json(400, {"error": {"message": "bad request body: %s" % e, "type": "invalid_request_error"}})
            self.log(None, "bad_body", 400)
            return
        if not isinstance(body, dict):
            body = {}
        self._body = body
        path = urlparse(self.path).path
        try:
            if path.endswith("/messages/count_tokens"):
                self.send_json(200, {"input_tokens": INPUT_TOKENS})
                self.log(body.get("model"), "count_tokens", 200)
            elif path.endswith("/messages"):
                self.anthropic(body)
            elif path.endswith("/responses"):
                self.openai_responses(body)
            elif path.endswith("/chat/completions"):
                self.chat(body)
            elif "/models/" in path and ":" in path:
                self.gemini(body, path)
            else:
                self.send_json(404, {"error": {"message": "not found: " + path, "type": "not_found"}})
                self.log(body.get("model"), "not_found", 404)
        except (BrokenPipeError, ConnectionResetError):
            self.log(body.get("model"), "client_disconnected", 0)

    def scripted(self, body, fmt, error_fmt, default_model):
        """(model, decision, label); the decision is None when an error answer was sent."""
        model = body.get("model") or default_model
        d = decide(body, fmt, model)
        label = answer_label(d)
        if d["kind"] == "error":
            self.log(model, label, self.send_error_for(error_fmt, d["error"]))
            return model, None, label
        return model, d, label

    # ---- Anthropic Messages
    def anthropic(self, body):
        model, d, label = self.scripted(body, "anthropic", "anthropic", "claude")
        if d is None:
            return
        usage = {"input_tokens": INPUT_TOKENS, "output_tokens": OUTPUT_TOKENS,
                 "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
        if d["kind"] == "tool":
            block = {"type": "tool_use", "id": new_id("toolu_"), "name": d["name"], "input": d["args"]}
            stop = "tool_use"
        else:
            block = {"type": "text", "text": d["text"]}
            stop = "end_turn"
        mid = new_id("msg_")
        if not body.get("stream"):
            self.send_json(200, {"id": mid, "type": "message", "role": "assistant", "model": model,
                                 "content": [block], "stop_reason": stop, "stop_sequence": None, "usage": usage})
            self.log(model, label, 200)
            return
        self.start_sse()
        self.sse({"type": "message_start", "message": {
            "id": mid, "type": "message", "role": "assistant", "model": model, "content": [],
            "stop_reason": None, "stop_sequence": None,
            "usage": dict(usage, output_tokens=1)}}, "message_start")
        if block["type"] == "tool_use":
            self.sse({"type": "content_block_start", "index": 0,
                      "content_block": {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}},
                     "content_block_start")
            self.sse({"type": "content_block_delta", "index": 0,
                      "delta": {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}},
                     "content_block_delta")
        else:
            self.sse({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
                     "content_block_start")
            self.sse({"type": "content_block_delta", "index": 0,
                      "delta": {"type": "text_delta", "text": block["text"]}}, "content_block_delta")
        self.sse({"type": "content_block_stop", "index": 0}, "content_block_stop")
        self.sse({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
                  "usage": usage}, "message_delta")
        self.sse({"type": "message_stop"}, "message_stop")
        self.end_sse()
        self.log(model, label, 200)

    # ---- OpenAI Responses
    def openai_responses(self, body):
        model, d, label = self.scripted(body, "responses", "openai", "test")
        if d is None:
            return
        rid = new_id("resp_")
        usage = {"input_tokens": INPUT_TOKENS, "input_tokens_details": {"cached_tokens": 0},
                 "output_tokens": OUTPUT_TOKENS, "output_tokens_details": {"reasoning_tokens": 0},
                 "total_tokens": INPUT_TOKENS + OUTPUT_TOKENS}
        if d["kind"] == "tool":
            call_id = new_id("call_")
            if d["tool_kind"] == "custom":
                item = {"type": "custom_tool_call", "id": new_id("ctc_"), "status": "completed",
                        "call_id": call_id, "name": d["name"], "input": d["args"]}
            else:
                item = {"type": "function_call", "id": new_id("fc_"), "status": "completed",
                        "call_id": call_id, "name": d["name"], "arguments": json.dumps(d["args"])}
        else:
            item = {"type": "message", "id": new_id("msg_"), "status": "completed", "role": "assistant",
                    "content": [{"type": "output_text", "text": d["text"], "annotations": []}]}
        base = {"id": rid, "object": "response", "created_at": int(time.time()), "model": model}
        if not body.get("stream", False):
            self.send_json(200, dict(base, status="completed", output=[item], usage=usage))
            self.log(model, label, 200)
            return
        self.start_sse()
        seq = [0]

        def ev(obj):
            obj["sequence_number"] = seq[0]
            seq[0] += 1
            self.sse(obj, obj["type"])

        ev({"type": "response.created", "response": dict(base, status="in_progress", output=[])})
        ev({"type": "response.in_progress", "response": dict(base, status="in_progress", output=[])})
        added = dict(item)
        if item["type"] == "message":
            added["content"] = []
            added["status"] = "in_progress"
        ev({"type": "response.output_item.added", "output_index": 0, "item": added})
        if item["type"] == "message":
            ev({"type": "response.content_part.added", "item_id": item["id"], "output_index": 0,
                "content_index": 0, "part": {"type": "output_text", "text": "", "annotations": []}})
            ev({"type": "response.output_text.delta", "item_id": item["id"], "output_index": 0,
                "content_index": 0, "delta": d["text"]})
            ev({"type": "response.output_text.done", "item_id": item["id"], "output_index": 0,
                "content_index": 0, "text": d["text"]})
            ev({"type": "response.content_part.done", "item_id": item["id"], "output_index": 0,
                "content_index": 0, "part": item["content"][0]})
        ev({"type": "response.output_item.done", "output_index": 0, "item": item})
        ev({"type": "response.completed", "response": dict(base, status="completed", output=[item], usage=usage)})
        self.end_sse()
        self.log(model, label, 200)

    # ---- OpenAI Chat Completions
    def chat(self, body):
        model, d, label = self.scripted(body, "chat", "openai", "test")
        if d is None:
            return
        cid = new_id("chatcmpl-")
        created = int(time.time())
        usage = {"prompt_tokens": INPUT_TOKENS, "completion_tokens": OUTPUT_TOKENS,
                 "total_tokens": INPUT_TOKENS + OUTPUT_TOKENS}
        if d["kind"] == "tool":
            tc = {"id": new_id("call_"), "type": "function",
                  "function": {"name": d["name"], "arguments": json.dumps(d["args"])}}
            finish = "tool_calls"
        else:
            tc = None
            finish = "stop"
        if not body.get("stream"):
            msg = {"role": "assistant", "content": None if tc else d["text"]}
            if tc:
                msg["tool_calls"] = [tc]
            self.send_json(200, {"id": cid, "object": "chat.completion", "created": created, "model": model,
                                 "choices": [{"index": 0, "message": msg, "finish_reason": finish}],
                                 "usage": usage})
            self.log(model, label, 200)
            return
        self.start_sse()

        def chunk_obj(delta, fin=None):
            return {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                    "choices": [{"index": 0, "delta": delta, "finish_reason": fin}]}

        if tc:
            self.sse(chunk_obj({"role": "assistant", "content": None, "tool_calls": [
                {"index": 0, "id": tc["id"], "type": "function",
                 "function": {"name": tc["function"]["name"], "arguments": ""}}]}))
            self.sse(chunk_obj({"tool_calls": [{"index": 0, "function": {"arguments": tc["function"]["arguments"]}}]}))
        else:
            self.sse(chunk_obj({"role": "assistant", "content": ""}))
            self.sse(chunk_obj({"content": d["text"]}))
        self.sse(chunk_obj({}, finish))
        # usage: in a final chunk when asked; otherwise still attached (harmless for most clients)
        if (body.get("stream_options") or {}).get("include_usage"):
            self.sse({"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                      "choices": [], "usage": usage})
        self.chunk("data: [DONE]\n\n")
        self.end_sse()
        self.log(model, label, 200)

    # ---- Gemini
    def gemini(self, body, path):
        m = re.search(r"/models/([^/:]+):(\w+)$", path)
        if not m:
            self.send_json(404, {"error": {"code": 404, "message": "not found", "status": "NOT_FOUND"}})
            self.log(None, "not_found", 404)
            return
        model, method = unquote(m.group(1)), m.group(2)
        ek = error_kind(model)
        if ek:
            self.log(model, ek, self.send_error_for("gemini", ek))
            return
        if method == "countTokens":
            self.send_json(200, {"totalTokens": INPUT_TOKENS})
            self.log(model, "count_tokens", 200)
            return
        if method == "embedContent":
            self.send_json(200, {"embedding": {"values": [0.0] * 8}})
            self.log(model, "embed", 200)
            return
        d = decide(body, "gemini", model)
        label = answer_label(d)
        if d["kind"] == "tool":
            part = {"functionCall": {"name": d["name"], "args": d["args"]}}
        else:
            part = {"text": d["text"]}
        resp = {"candidates": [{"content": {"role": "model", "parts": [part]}, "finishReason": "STOP", "index": 0}],
                "usageMetadata": {"promptTokenCount": INPUT_TOKENS, "candidatesTokenCount": OUTPUT_TOKENS,
                                  "totalTokenCount": INPUT_TOKENS + OUTPUT_TOKENS},
                "modelVersion": model, "responseId": new_id("")}
        if method == "streamGenerateContent":
            self.start_sse()
            self.sse(resp)
            self.end_sse()
        else:
            self.send_json(200, resp)
        self.log(model, label, 200)


def main():
    global LOG_PATH, LOG_BODIES
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--log", default=None, help="append one JSON line per request")
    ap.add_argument("--log-bodies", action="store_true", help="also put each request body in the log (debugging)")
    a = ap.parse_args()
    LOG_PATH = a.log
    LOG_BODIES = a.log_bodies
    ThreadingHTTPServer.daemon_threads = True
    srv = ThreadingHTTPServer((a.host, a.port), Handler)
    print("listening on %s:%d" % (a.host, srv.server_address[1]), flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
