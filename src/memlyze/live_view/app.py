"""The live view's Textual app: header, heap and RSS over time, the
locations holding most memory now (sortable), a per-thread selector, pause,
and a connection that is re-made when it drops.

A reader thread owns the socket: it hands each snapshot to the app with
call_from_thread, pings the server every second, and on a drop says so on
screen and reconnects every second until the server takes it again (or the
program has said it ended)."""

from __future__ import annotations

import socket
import threading
import time

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import DataTable, Footer, Sparkline, Static

from . import presentation, protocol
from .connection import Connection, ConnectionLost, LiveError

PING_INTERVAL = 1.0
RECONNECT_INTERVAL = 1.0
# Points of the charts kept (the server's history holds up to 1024).
CHART_POINTS = 2048


class LiveApp(App):
    TITLE = "memlyze live"
    CSS = """
    #header { height: 2; }
    #status { height: 1; color: $warning; }
    #threads { height: 1; }
    .chart { height: 3; }
    .chart-label { width: 6; }
    Sparkline { width: 1fr; height: 3; }
    DataTable { height: 1fr; }
    """
    BINDINGS = [
        Binding("o", "sort('own')", "sort by own bytes"),
        Binding("t", "sort('total')", "by total bytes"),
        Binding("c", "sort('count')", "by blocks"),
        Binding("less_than_sign,left_square_bracket", "thread(-1)", "previous thread"),
        Binding("greater_than_sign,right_square_bracket", "thread(1)", "next thread"),
        Binding("p,space", "pause", "pause"),
        Binding("q", "quit", "quit"),
    ]

    def __init__(self, port: int, connection: Connection, hello, history):
        super().__init__()
        self.port = port
        self.hello = hello
        self.sort_key = "own"
        self.selected_thread = 0
        self.paused = False
        self.shown = None     # the snapshot on screen
        self.latest = None    # the latest snapshot (differs while paused)
        self.heap_points = [point[1] for point in history]
        self.rss_points = [point[2] for point in history]
        self.status = "connected"
        self._connection = connection
        self._stopping = threading.Event()
        self._reader = threading.Thread(target=self._read_frames, name="memlyze-live-reader",
                                        daemon=True)

    # --- layout -----------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static(id="header", markup=False)
        yield Static(id="status", markup=False)
        with Horizontal(classes="chart"):
            yield Static("heap", classes="chart-label")
            yield Sparkline(self.heap_points, summary_function=max, id="heap")
        with Horizontal(classes="chart"):
            yield Static("RSS", classes="chart-label")
            yield Sparkline(self.rss_points, summary_function=max, id="rss")
        yield Static(id="threads", markup=False)
        yield DataTable(id="locations", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        self._redraw()
        self._reader.start()

    def on_unmount(self) -> None:
        self._stopping.set()
        self._connection_close()

    # --- what the reader thread hands over ----------------------------------

    def take_snapshot(self, snapshot) -> None:
        self.latest = snapshot
        self.heap_points = (self.heap_points + [snapshot.heap_bytes])[-CHART_POINTS:]
        self.rss_points = (self.rss_points + [snapshot.rss_bytes])[-CHART_POINTS:]
        if not self.paused:
            self._redraw()

    def take_history(self, hello, history) -> None:
        self.hello = hello
        self.heap_points = [point[1] for point in history]
        self.rss_points = [point[2] for point in history]

    def take_status(self, status: str) -> None:
        self.status = status
        self._redraw_status()

    # --- keys -------------------------------------------------------------

    def action_sort(self, key: str) -> None:
        self.sort_key = key
        self._redraw_table()

    def action_thread(self, step: int) -> None:
        snapshot = self.shown or self.latest
        choices = presentation.thread_choices(snapshot) if snapshot else [0]
        position = choices.index(self.selected_thread) if self.selected_thread in choices else 0
        self.selected_thread = choices[(position + step) % len(choices)]
        self._send(protocol.select_frame(self.selected_thread))
        self._redraw_status()

    def action_pause(self) -> None:
        self.paused = not self.paused
        self._redraw()

    # --- drawing ------------------------------------------------------------

    def _redraw(self) -> None:
        if not self.paused:
            self.shown = self.latest
            self.query_one("#heap", Sparkline).data = list(self.heap_points) or [0]
            self.query_one("#rss", Sparkline).data = list(self.rss_points) or [0]
        lines = presentation.header_lines(self.hello, self.shown, self.port)
        self.query_one("#header", Static).update(Text("\n".join(lines)))
        self._redraw_status()
        self._redraw_table()

    def _redraw_status(self) -> None:
        status = self.status
        if self.paused:
            status = "PAUSED (p to resume) · " + status
        if self.shown is not None and self.shown.selected_thread != self.selected_thread:
            status += " · switching thread…"
        self.query_one("#status", Static).update(Text(status))
        threads = presentation.threads_line(self.shown, self.selected_thread) if self.shown else ""
        self.query_one("#threads", Static).update(Text(threads))

    def _redraw_table(self) -> None:
        table = self.query_one("#locations", DataTable)
        table.clear(columns=True)
        table.add_columns(*presentation.column_titles(self.sort_key))
        if self.shown is None:
            return
        rows = presentation.sorted_locations(self.shown.locations, self.sort_key)
        for location in rows[:presentation.MAX_ROWS]:
            table.add_row(*(Text(cell) for cell in presentation.location_row(location)))

    # --- the connection (reader thread) ---------------------------------------

    def _send(self, data: bytes) -> None:
        connection = self._connection
        if connection is not None:
            try:
                connection.send(data)
            except OSError:
                pass  # the reader sees the drop and reconnects

    def _connection_close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

    def _post(self, method, *arguments) -> None:
        if not self._stopping.is_set():
            try:
                self.call_from_thread(method, *arguments)
            except RuntimeError:
                self._stopping.set()  # the app is gone

    def _read_frames(self) -> None:
        last_ping = time.monotonic()
        while not self._stopping.is_set():
            connection = self._connection
            if connection is None:
                if not self._reconnect():
                    return
                continue
            if time.monotonic() - last_ping >= PING_INTERVAL:
                self._send(protocol.ping_frame())
                last_ping = time.monotonic()
            try:
                connection.set_timeout(PING_INTERVAL)
                kind, payload = connection.read_frame()
            except socket.timeout:
                continue
            except (ConnectionLost, OSError, protocol.ProtocolError):
                self._connection_close()
                self._post(self.take_status, f"connection to PID {self.hello.pid} lost; "
                                             "reconnecting…")
                continue
            if kind == protocol.SNAPSHOT:
                self._post(self.take_snapshot, protocol.decode_snapshot(payload))
            elif kind == protocol.END:
                self._connection_close()
                self._post(self.take_status, f"the program ended (PID {self.hello.pid}); "
                                             "q to quit")
                return

    def _reconnect(self) -> bool:
        """Tries until a connection is made (True) or the app stops (False)."""
        while not self._stopping.wait(RECONNECT_INTERVAL):
            try:
                connection, hello, history = Connection.open(self.port)
            except LiveError as error:
                self._post(self.take_status, f"{error}; retrying…")
                continue
            self._post(self.take_history, hello, history)
            self._connection = connection
            if self.selected_thread:
                self._send(protocol.select_frame(self.selected_thread))
            self._post(self.take_status, "reconnected")
            return True
        return False
