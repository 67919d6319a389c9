"""Step kinds behind one small protocol (`golive.actions.base.Action`): local commands, manual
steps, checks, gates, SSH fan-out... Built-ins register through the `golive.actions` entry
point group, the same way a third-party package would."""
