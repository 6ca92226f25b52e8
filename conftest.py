"""Root test configuration: NiceGUI's user fixture and a clean, isolated environment per run."""

import os
import tempfile

pytest_plugins = ['nicegui.testing.user_plugin']

_RUN_DIR = tempfile.mkdtemp(prefix='halltwin-test-')
os.environ.setdefault('VAR_DIR', _RUN_DIR)
os.environ.setdefault('SECRET_KEY', 'test-secret-key-that-is-long-enough-0123456789')
os.environ['HALL_SIMULATION'] = 'off'
os.environ['DEVICE_MODE'] = 'websocket'
os.environ.pop('DATABASE_URL', None)
os.environ.pop('REDIS_URL', None)
os.environ.pop('AUDIT_ANCHOR_FILE', None)  # never append test anchors to a real anchor file
