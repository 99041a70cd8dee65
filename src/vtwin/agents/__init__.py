"""Learning agents and their shared parts (networks, diffusion chain, buffers, GAE)."""
