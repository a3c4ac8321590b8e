"""The review workflow: reviews, readiness conditions, decisions, risks, hand-off, readout,
playbook, risk signals, progress, exports."""
