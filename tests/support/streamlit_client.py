"""One visitor of a running Streamlit app, speaking the browser's own protocol: no browser, next to no CPU.

A browser tab talks to ``ws://host:port/_stcore/stream`` in protobuf: it sends ``BackMsg`` (a rerun with every
widget's state, a fragment's id when only that fragment reruns, a request for upload URLs) and receives
``ForwardMsg`` (the session's id, the elements of each run, the end of the run).  This client does the same, as
recorded from Chromium on the app with streamlit 1.67 and streamlit-drawable-canvas 0.13:

- a canvas stroke is a fragment rerun whose canvas widget holds JSON ``{"drawing": {"raw": <fabric.js objects>,
  "data": "data:image/png;base64,..."}}`` (the PNG is what the app reads);
- an upload asks for upload URLs (``file_urls_request``), PUTs the file over HTTP (with the XSRF cookie as header),
  then reruns the uploader's fragment with its ``file_uploader_state_value``; removing it reruns with an empty one;
- a button press is a rerun whose widget holds ``trigger_value`` once.

Widget ids (``$$ID-<hash>-<key>``) and fragment ids are learned from the elements the server sends, as the browser
learns them; every rerun carries the states this session has set, as the browser's does.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import urlparse

import cv2
import numpy as np
import requests
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.Common_pb2 import FileURLs
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

from digitlib.app.draw import CANVAS_HEIGHT, CANVAS_WIDTH
from digitlib.app.draw import DEFAULT_BRUSH as BRUSH

ID_PREFIX = "$$ID-"
ID_HASH_LENGTH = 32
MEDIA_PREFIX = "/media/"


class Disconnected(Exception):
    """The server closed this visitor's websocket."""


class FetchFailed(Exception):
    """A request over HTTP was refused (its status, method and path in the message: a proxy's 502 is not the app's
    404)."""


@dataclass
class Run:
    """What one script (or fragment) run showed this session."""

    metrics: dict[str, str] = field(default_factory=dict)  # label -> value, e.g. "Number read" -> "7"
    alerts: list[str] = field(default_factory=list)  # st.error / st.warning / st.info texts
    exceptions: list[str] = field(default_factory=list)
    first_metric_at: dict[str, float] = field(default_factory=dict)  # label -> monotonic time it arrived
    media: list[str] = field(default_factory=list)  # the URLs of the images shown
    options: dict[str, list[str]] = field(default_factory=dict)  # a select box's label -> its options as shown


def widget_key(widget_id: str) -> str:
    """The user key in a widget id (``None`` for a widget without one)."""
    return widget_id[len(ID_PREFIX) + ID_HASH_LENGTH + 1 :]


def look_into(message, widgets: dict[str, str], media: list[str]) -> None:
    """Every widget id in an element or block (any depth), as id -> its label (or its key when it has none), and
    every media file it shows (images are sent as URLs the browser then fetches)."""
    for descriptor, value in message.ListFields():
        if descriptor.message_type is not None:
            for item in [value] if hasattr(value, "ListFields") else value:  # one message, or a repeated field
                look_into(item, widgets, media)
        elif descriptor.name == "id" and isinstance(value, str) and value.startswith(ID_PREFIX):
            widgets[value] = getattr(message, "label", "") or widget_key(value)
        elif descriptor.name == "url" and isinstance(value, str) and value.startswith(MEDIA_PREFIX):
            media.append(value)


class AppSession:
    """One browser tab's worth of Streamlit session over a websocket."""

    def __init__(self, url: str):
        self.url = url
        self.session_id = ""
        self.states: dict[str, WidgetState] = {}  # what this tab's widgets hold, sent with every rerun
        self.widgets: dict[str, str] = {}  # widget id -> label or key, as the server has shown them
        self.fragment_of: dict[str, str] = {}  # widget id -> the fragment it lives in
        self.http = requests.Session()
        self.socket = None
        self.media_connection: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def open(self) -> Run:
        """Connect, as a new tab does, and run the page once."""
        await asyncio.to_thread(self.http.get, f"{self.url}/_stcore/health", timeout=30)  # the XSRF cookie
        address = urlparse(self.url)
        request = HTTPRequest(f"ws://{address.netloc}{address.path}/_stcore/stream", headers={"Cookie": self.cookies})
        self.socket = await websocket_connect(request, subprotocols=["streamlit"], max_message_size=64 * 2**20)
        return await self.rerun()

    @property
    def cookies(self) -> str:
        """The Cookie header, as a browser sends it with every request: a proxy in front of several servers keeps a
        visitor on one by one."""
        return "; ".join(f"{name}={value}" for name, value in self.http.cookies.items())

    @property
    def xsrf_token(self) -> str:
        """Streamlit's XSRF cookie, which an upload and a deletion must repeat as a header."""
        return self.http.cookies.get("_streamlit_xsrf", "")

    async def close(self) -> None:
        if self.socket is not None:
            self.socket.close()
        if self.media_connection is not None:
            self.media_connection[1].close()
        self.http.close()

    async def receive(self) -> ForwardMsg:
        data = await self.socket.read_message()
        if data is None:
            raise Disconnected(f"websocket closed ({self.socket.close_code} {self.socket.close_reason})")
        message = ForwardMsg()
        message.ParseFromString(data)
        return message

    async def send(self, message: BackMsg) -> None:
        await self.socket.write_message(message.SerializeToString(), binary=True)

    def newest(self, key_prefix: str) -> str:
        """The key of the widget shown last whose key starts so (the canvas gets a new key when cleared)."""
        return [widget_key(widget_id) for widget_id in self.widgets if widget_key(widget_id).startswith(key_prefix)][-1]

    def widget(self, key: str = "", label: str = "") -> str:
        """The id of the widget shown with this key (or this label)."""
        for widget_id, shown in self.widgets.items():
            if (key and widget_key(widget_id) == key) or (label and shown == label):
                return widget_id
        raise KeyError(f"no widget {key or label!r} shown in this session")

    async def rerun(self, changed: list[WidgetState] = (), fragment_id: str = "") -> Run:
        """Send a rerun with this tab's widget states (``changed`` ones updated), read until the run ends."""
        for state in changed:
            self.states[state.id] = state
        message = BackMsg()
        message.rerun_script.widget_states.widgets.extend(self.states.values())
        if fragment_id:
            message.rerun_script.fragment_id = fragment_id
        message.rerun_script.context_info.timezone = "UTC"
        message.rerun_script.context_info.url = self.url + "/"
        await self.send(message)
        for state in changed:  # a button press is sent once, as the browser does
            if state.WhichOneof("value") == "trigger_value":
                del self.states[state.id]
        return await self.run_result()

    async def run_result(self) -> Run:
        run = Run()
        while True:
            message = await self.receive()
            kind = message.WhichOneof("type")
            if kind == "new_session":
                self.session_id = message.new_session.initialize.session_id or self.session_id
            elif kind == "delta":
                self.note_delta(message.delta, run)
            elif kind == "script_finished" and message.script_finished != ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                return run

    def note_delta(self, delta, run: Run) -> None:
        found: dict[str, str] = {}
        look_into(delta, found, run.media)
        self.widgets.update(found)
        self.fragment_of.update((widget_id, delta.fragment_id) for widget_id in found)
        element = delta.new_element
        kind = element.WhichOneof("type") if delta.WhichOneof("type") == "new_element" else None
        if kind == "metric":
            run.metrics[element.metric.label] = element.metric.body
            run.first_metric_at.setdefault(element.metric.label, time.monotonic())
        elif kind == "alert":
            run.alerts.append(element.alert.body)
        elif kind == "exception":
            run.exceptions.append(f"{element.exception.type}: {element.exception.message}")
        elif kind == "selectbox":
            run.options[element.selectbox.label] = list(element.selectbox.options)

    async def draw(self, canvas_key: str, picture_png: bytes, raw: dict) -> Run:
        """The canvas sends a drawing: its fragment reruns with the canvas' new value."""
        canvas = self.widget(key=canvas_key)
        value = {"drawing": {"raw": raw, "data": "data:image/png;base64," + base64.b64encode(picture_png).decode()}}
        return await self.rerun([WidgetState(id=canvas, json_value=json.dumps(value))], self.fragment_of[canvas])

    def hold(self, state: WidgetState) -> None:
        """Set a widget's value without a rerun, as typing into a form's field does until the form is submitted."""
        self.states[state.id] = state

    async def press(self, label: str) -> Run:
        button = self.widget(label=label)
        return await self.rerun([WidgetState(id=button, trigger_value=True)], self.fragment_of[button])

    async def fetch_media(self, run: Run) -> None:
        """Fetch the images a run showed, as the browser does once it has the elements: over one kept-alive HTTP/1.1
        connection, on this event loop (a thread per request would cost the client more CPU than the reading costs
        the server), with the cookies, so that a proxy sends them to this tab's server."""
        for path in run.media:
            await self.fetch(path)

    async def fetch(self, path: str) -> bytes:
        """One GET on the kept-alive connection (`exchange`)."""
        return await self.exchange("GET", path)

    async def exchange(self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> bytes:
        """One request on the kept-alive connection, opened again if the server had closed it while idle; the body of
        the answer (`FetchFailed` unless its status is 200 or 204)."""
        request = self.request_bytes(method, path, body, headers or {})
        if self.media_connection is not None:
            try:
                return await self.answer(method, path, request, *self.media_connection)
            except (ConnectionError, asyncio.IncompleteReadError):
                self.media_connection[1].close()
        address = urlparse(self.url)
        self.media_connection = await asyncio.open_connection(address.hostname, address.port or 80)
        return await self.answer(method, path, request, *self.media_connection)

    def request_bytes(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> bytes:
        address = urlparse(self.url)
        lines = [f"{method} {address.path}{path} HTTP/1.1", f"Host: {address.netloc}", f"Cookie: {self.cookies}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        if body or method in ("PUT", "POST"):
            lines.append(f"Content-Length: {len(body)}")
        return "\r\n".join(lines).encode() + b"\r\n\r\n" + body

    async def answer(
        self, method: str, path: str, request: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bytes:
        writer.write(request)
        status_line, *lines = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
        if "content-length" in headers:
            body = await reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":  # sizes in hex, each chunk and CRLF, then 0
            body = b""
            while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
                body += (await reader.readexactly(size + 2))[:-2]
            await reader.readuntil(b"\r\n")
        else:  # 204 and 304 carry no body
            body = b""
        if headers.get("connection", "").lower() == "close":
            writer.close()
            self.media_connection = None
        status = status_line.split()[1]
        if status not in ("200", "204"):
            raise FetchFailed(f"{status} {method} {path}")
        return body

    def forget(self, key: str) -> None:
        """Drop a widget's state once the app has replaced it (a cleared canvas gets a new key)."""
        self.states.pop(self.widget(key=key), None)

    async def choose(self, key: str, value: str) -> Run:
        """A string-valued widget (a tab of ``st.tabs(key=...)``, a select box) set to ``value``: a full rerun."""
        return await self.rerun([WidgetState(id=self.widget(key=key), string_value=value)])

    async def upload(self, uploader_key: str, name: str, data: bytes) -> tuple[Run, FileURLs]:
        """Upload one file into the uploader as the browser does; returns the run that read it and its URLs."""
        request = BackMsg()
        request.file_urls_request.request_id = str(uuid.uuid4())
        request.file_urls_request.file_names.append(name)
        request.file_urls_request.session_id = self.session_id
        await self.send(request)
        while (message := await self.receive()).WhichOneof(
            "type"
        ) != "file_urls_response" or message.file_urls_response.response_id != request.file_urls_request.request_id:
            pass
        if message.file_urls_response.error_msg:
            raise RuntimeError(f"upload refused: {message.file_urls_response.error_msg}")
        urls = message.file_urls_response.file_urls[0]
        boundary = uuid.uuid4().hex  # a multipart form with the one file, as the browser's uploader sends it
        form = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            f"Content-Type: image/png\r\n\r\n".encode()
            + data
            + f"\r\n--{boundary}--\r\n".encode()
        )
        headers = {"X-Xsrftoken": self.xsrf_token, "Content-Type": f"multipart/form-data; boundary={boundary}"}
        await self.exchange("PUT", urls.upload_url, form, headers)
        uploader = self.widget(key=uploader_key)
        state = WidgetState(id=uploader)
        info = state.file_uploader_state_value.uploaded_file_info.add(name=name, size=len(data), file_id=urls.file_id)
        info.file_urls.CopyFrom(urls)
        return await self.rerun([state], self.fragment_of[uploader]), urls

    async def remove_uploads(self, uploader_key: str, urls: FileURLs) -> Run:
        """The uploader emptied (the file's cross clicked): a rerun with no files, and the file deleted."""
        uploader = self.widget(key=uploader_key)
        state = WidgetState(id=uploader)
        state.file_uploader_state_value.SetInParent()
        run = await self.rerun([state], self.fragment_of[uploader])
        await self.exchange("DELETE", urls.delete_url, headers={"X-Xsrftoken": self.xsrf_token})
        return run


def drawn_digit(strokes: list[list[tuple[float, float]]], rng: np.random.Generator) -> tuple[bytes, dict]:
    """A digit's strokes as the canvas returns them: its 640x240 PNG (black 18 px round-capped brush on white) and
    fabric.js's JSON of the paths.  Place and size vary a little, so no two drawings are the same picture (a cache
    keyed on the picture would otherwise make every reading after the first free)."""
    size = CANVAS_HEIGHT * 0.76 * rng.uniform(0.85, 1.1)
    left = CANVAS_HEIGHT * 0.95 + rng.uniform(-60, 60)
    top = CANVAS_HEIGHT * 0.12 + rng.uniform(-10, 10)
    paper = np.full((CANVAS_HEIGHT, CANVAS_WIDTH, 4), 255, np.uint8)
    paths = []
    for stroke in strokes:
        points = np.array([(left + x * size * 0.75 + size * 0.125, top + y * size) for x, y in stroke])
        cv2.polylines(paper, [np.round(points * 16).astype(np.int32)], False, (0, 0, 0, 255), BRUSH, cv2.LINE_AA, 4)
        path = [["M", *points[0].round(2).tolist()], *(["L", *point.round(2).tolist()] for point in points[1:])]
        paths.append(
            {
                "type": "Path",
                "version": "7.4.0",
                "stroke": "#000000",
                "strokeWidth": BRUSH,
                "fill": None,
                "strokeLineCap": "round",
                "strokeLineJoin": "round",
                "path": path,
            }
        )
    ok, png = cv2.imencode(".png", cv2.cvtColor(paper, cv2.COLOR_RGBA2BGRA))
    return png.tobytes(), {"version": "7.4.0", "objects": paths, "background": "#FFFFFF"}
