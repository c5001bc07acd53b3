"""Discord delivery — the only package that imports discord.py.

* ``render`` — an alert as a Discord message (pure: content, embed dict, allowed roles);
* ``client`` — the discord.py client (fewest intents), ``apply_endpoints`` for DISCORD_API_BASE /
  DISCORD_GATEWAY_URL, the on-ready channel check;
* ``checks`` — which channels the rules name (pure);
* ``sink`` — ``DiscordSink`` (channels), ``WebhookSink``, ``DiscordDelivery`` (routes between them);
* ``runtime`` — one process's client + sinks, logged in and connected in the background.
"""
