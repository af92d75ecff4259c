"""Helpers shared by the tests (conftest.py holds only fixtures): `from tests.support import client_for, ...`."""

from .apps import AppFactory, Controller, FakeEndpoint
from .clients import ALICE_KEY, BOB_KEY, TEST_API_KEYS, LocalClient, client_for
from .events import EVENTS, load_event
from .labels import read_label
from .servers import redis_answers, start_gunicorn_stack, start_stack, triton_inference_count
from .switch import BreaksMidStream, CountingStreams, Paced, Switch

__all__ = ["AppFactory", "Controller", "BreaksMidStream", "CountingStreams", "FakeEndpoint", "ALICE_KEY", "BOB_KEY",
           "EVENTS", "Paced", "TEST_API_KEYS", "LocalClient", "client_for", "load_event", "read_label", "redis_answers",
           "Switch", "start_gunicorn_stack", "start_stack", "triton_inference_count"]
