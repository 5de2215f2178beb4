"""The simulated model behind ``infersight demo``: a credit-default classifier whose inputs
drift and whose performance drops, sent through the real SDK into the embedded collector."""
