"""Clients of the service, shared by the CLI, the benchmark and the tests.

websocket.py speaks GraphQL over WebSocket (graphql-transport-ws); http.py posts GraphQL over HTTP and
names each answer's outcome; traffic.py generates bounded, rate-controlled load from steps built on both.
"""
