"""Pure point rules: plain typed data in, point decisions out. No I/O, no clock, no database."""
