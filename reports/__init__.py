"""The admin reports (Points Status, Points Sources, Top Earning Customers, Points History).

Read-only queries over the ledger; they arrive with a later release. Until then `loyalty balances`
and `loyalty verify` read the ledger, and `make demo` prints a short points status.
"""
