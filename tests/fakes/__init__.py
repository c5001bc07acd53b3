"""Network-edge fakes for tests: a feed host and (see ``discord_server``) a Discord-compatible server."""
