"""The event contract: the envelope and one module of event models per producer."""
