"""Plugins golive hands ansible-playbook (ANSIBLE_CALLBACK_PLUGINS points at `callback/`)."""
