"""Paper C's LLM reward-design loop: an LLM proposes reward functions, each is trained and scored.

:mod:`vtwin.reward_design.client` is the chat client the loop talks to (any OpenAI-compatible
server, with bounded retries and an on-disk reply cache); :mod:`vtwin.reward_design.server`
is an offline scripted server for tests and demos without a model.
"""
