"""Helpers the test suites share: the committed model in a temporary store, the real
server started from the Procfile, loopback traffic and its judge. Test modules and
conftest files import from here, never from each other."""
