"""Traffic switching at nginx: the include file golive owns (`config`), changing it safely
(`nginx`: check, atomic swap, graceful reload, put back), the access log (`access_log`), canary
analysis (`analysis`) and a traffic step's moves (`rollout`). See docs/traffic.md."""
