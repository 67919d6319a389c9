"""Reports built from the event log: the history of a plan's runs, forecasts, readiness.

    from golive.report.forecast import forecast
    from golive.report.history import history, load_runs
    from golive.report.readiness import readiness

    with open_store(url) as store:
        runs = load_runs(store=store, plan_id=plan.golive)
    history(plan, runs)          # each step's duration in each run, side by side
    forecast(plan, runs)         # the production run predicted from the rehearsals
    readiness(plan, runs)        # may the plan go to production? and if not, why not

Only `load_runs` reads the store; the rest are pure functions of the plan and the runs. The
functions are not re-exported here: each shares its module's name, and would hide it.
"""
