"""Who may do what, and the record of it: access rules, users and login sessions, the audit chain,
personal-data masking."""
