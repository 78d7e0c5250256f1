"""Fake upstreams on 127.0.0.1, one module per source, sharing `base.FakeServer`."""
