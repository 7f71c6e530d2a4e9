"""cupy.cuda on the CPU: one device (0), the null stream, events; synchronising counts a sync.

Enough of CuPy's device API for the library (``cupy.cuda.runtime.getDeviceCount()``) and for
timing code (``Device().synchronize()``, ``get_current_stream().synchronize()``, events).
"""
from __future__ import annotations

import time

from . import counting

NAME = b"CuPy stand-in (NumPy on the CPU)"


class Device:
    """cupy.cuda.Device: device 0 only (the stand-in has one)."""

    def __init__(self, device=None):
        self.id = 0 if device is None else int(device)
        if self.id != 0:
            raise RuntimeError(f"the CuPy stand-in has one device, 0 (asked for {self.id})")

    compute_capability = "90"
    mem_info = property(lambda self: (64 * 2**30, 64 * 2**30))  # (free, total) bytes

    def synchronize(self) -> None:
        counting.sync()

    def use(self) -> None:
        pass

    def __enter__(self) -> Device:
        return self

    def __exit__(self, *exc) -> None:
        pass

    def __eq__(self, other) -> bool:
        return isinstance(other, Device) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)

    def __repr__(self) -> str:
        return f"<CUDA Device {self.id}>"


class Event:
    """cupy.cuda.Event: `record` notes the time; work on the stand-in is done when it returns."""

    def __init__(self, block=False, disable_timing=False, interprocess=False):
        self._time = None

    def record(self, stream=None) -> None:
        self._time = time.perf_counter()

    def synchronize(self) -> None:
        counting.sync()

    done = property(lambda self: True)


class Stream:
    """cupy.cuda.Stream: every stand-in stream is the null stream (work runs at once)."""

    null = None  # set below: Stream.null, as in CuPy

    def __init__(self, null=False, non_blocking=False, ptds=False, priority=None):
        self.ptr = 0

    def synchronize(self) -> None:
        counting.sync()

    def record(self, event=None) -> Event:
        event = event or Event()
        event.record(self)
        return event

    def use(self) -> Stream:
        return self

    done = property(lambda self: True)

    def __enter__(self) -> Stream:
        return self

    def __exit__(self, *exc) -> None:
        pass


Stream.null = Stream(null=True)


def get_current_stream(device_id=None) -> Stream:
    return Stream.null


def get_device_id() -> int:
    return 0


def is_available() -> bool:
    return True


def get_elapsed_time(start_event: Event, end_event: Event) -> float:
    """Milliseconds between two recorded events."""
    return (end_event._time - start_event._time) * 1e3


# ---------------------------------------------------------------- cupy.cuda.runtime
def getDeviceCount() -> int:
    return 1


def getDevice() -> int:
    return 0


def deviceSynchronize() -> None:
    counting.sync()


def getDeviceProperties(device: int) -> dict:
    Device(device)
    return {"name": NAME, "totalGlobalMem": 64 * 2**30, "major": 9, "minor": 0, "multiProcessorCount": 1}


RUNTIME = {f.__name__: f for f in (getDeviceCount, getDevice, deviceSynchronize, getDeviceProperties)}
CUDA = {"Device": Device, "Event": Event, "Stream": Stream, "get_current_stream": get_current_stream,
        "get_device_id": get_device_id, "is_available": is_available, "get_elapsed_time": get_elapsed_time}
