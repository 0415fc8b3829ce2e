"""Issue #7 in CI: pay and push under 30% injected faults, then reconcile until it all settles.

20 approved payables and 20 payout links, 4 worker threads, every job delivered twice at
once and once more later, while the emulator fails about 30% of calls (503, timeouts after
which it still does the work, dropped answers after doing it, latency). Then the faults
stop and reconciliation runs. What the emulator recorded is the judge: one payment per
payable, one link per link request, every local status equal to Dots', nothing in doubt.
bench/chaos.py runs the same harness with 500 + 500 and prints its figures.
"""

import pytest

from tests import chaos_support

PAY_PATH = "/v2/accounts-payable/payables/*/pay"
N_PAYABLES = 20
N_LINKS = 20
SEED = 20260711


@pytest.fixture
def chaos_settings(settings):
    # The client gives up after 0.4 s; a timeout fault sleeps 1.2 s and then does the work,
    # so outcome unknown is real. Dots showing "approved" is believed only 3 s after a pay
    # call: well past the 1.2 s a delayed payment takes to land.
    settings.DOTS_TIMEOUT_SECONDS = 0.4
    settings.PAY_OUTCOME_SETTLE_SECONDS = 3
    return settings


@pytest.mark.django_db(transaction=True)
def test_every_payable_is_paid_once_and_every_link_made_once_under_30_percent_faults(dots, chaos_settings):
    world = chaos_support.build_world(emulator=dots, payables=N_PAYABLES, links=N_LINKS)

    # So that every run meets each case whatever order the threads take, the first pay calls
    # are sure to fail each way; then about 30% of all calls fail at random.
    for kind in ("drop", "timeout", "status"):
        dots.add_fault(method="POST", path=PAY_PATH, kind=kind, count=2, ms=1200)
    chaos_support.install_fault_mix(dots, total_rate=0.3, seed=SEED, timeout_ms=1200, latency_ms=150)
    stats = chaos_support.run_workers(world=world, jobs=chaos_support.chaos_jobs(world, seed=SEED), workers=4)
    fired = chaos_support.faults_fired(dots)
    dots.control("faults/clear")

    settled = chaos_support.settle(world=world, deadline_seconds=20)
    report = chaos_support.compare_with_dots(world=world, settle_seconds=settled.seconds, faults=fired)
    print("\n".join(report.lines()))
    print(f"      worker outcomes: {dict(stats.outcomes)}; settle rounds {settled.rounds}, "
          f"paid again {settled.paid_again}, pushed again {settled.pushed_again}")

    assert stats.unexpected == []
    assert sum(fired.values()) > 0 and set(fired) == set(chaos_support.FAULT_KINDS)
    assert settled.settled, chaos_support.unsettled(world)
    assert report.payments_in_dots == N_PAYABLES, report.paid_twice + report.never_paid
    assert report.paid_twice == []
    assert report.links_in_dots == N_LINKS
    assert report.links_not_ours == 0
    assert report.status_mismatches == []
    assert report.outcome_unknown == 0
    # The guaranteed faults went through the outcome-unknown path, and it was settled from Dots.
    assert report.along_the_way["payments in outcome unknown"] >= 6
