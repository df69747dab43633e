"""`make fidelity`: foreign clients (Airbyte's connector, the npm client) against the sandbox."""
