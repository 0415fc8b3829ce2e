import threading
from contextlib import contextmanager

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, connections, transaction

from core import audit, request_context
from core.db_guards import SQLITE_CREATE
from core.errors import AuditLogIsAppendOnly
from core.models import GENESIS_HASH, AuditChainHead, AuditEvent
from tests.support import make_user

pytestmark = pytest.mark.django_db


@contextmanager
def trigger_dropped():
    """What someone with the database owner's rights could do: take the trigger away."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Deferred foreign-key checks of this test's inserts must run before ALTER TABLE.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("ALTER TABLE core_auditevent DISABLE TRIGGER core_auditevent_append_only")
        else:
            cursor.execute("DROP TRIGGER core_auditevent_append_only")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("ALTER TABLE core_auditevent ENABLE TRIGGER core_auditevent_append_only")
            else:
                cursor.execute(SQLITE_CREATE)


def _write_events(actor, count: int) -> list[AuditEvent]:
    return [
        audit.record(
            actor=actor,
            action="record.updated",
            object_type="tests.thing",
            object_id=str(i),
            object_repr=f"thing {i}",
            before={"n": i},
            after={"n": i + 1},
        )
        for i in range(count)
    ]


def test_record_writes_who_when_what_and_why():
    alice = make_user("alice", first_name="Alice", last_name="Smith")
    with request_context.bound(request_id="req-12345678", ip_address="10.1.2.3"):
        event = audit.record(
            actor=alice,
            action="user.updated",
            target=alice,
            before={"email": "old@example.com", "is_staff": True},
            after={"email": "new@example.com", "is_staff": True},
            reason="typo in the address",
        )
    event.refresh_from_db()
    assert event.actor == alice
    assert event.actor_label == "alice (Alice Smith)"
    assert event.action == "user.updated"
    assert event.object_type == "auth.user"
    assert event.object_id == str(alice.pk)
    assert event.object_repr == "alice"
    # Only what changed is kept.
    assert event.changes == {"email": {"before": "old@example.com", "after": "new@example.com"}}
    assert event.reason == "typo in the address"
    assert event.ip_address == "10.1.2.3"
    assert event.request_id == "req-12345678"
    assert event.occurred_at is not None


def test_record_by_a_task_names_the_system_actor():
    event = audit.record(
        actor=audit.system_user(),
        action="record.updated",
        object_type="tests.thing",
        object_id="1",
        source=AuditEvent.Source.SYNC,
    )
    assert event.actor_label == "system"
    assert event.source == "sync"


def test_record_masks_account_numbers_and_secrets_in_changes():
    actor = make_user("clerk")
    event = audit.record(
        actor=actor,
        action="record.updated",
        object_type="vendors.bankaccount",
        object_id="7",
        changes={
            "account_number": {"before": None, "after": "000123456789"},
            "api_key": {"before": None, "after": "sk_live_abcdef123456"},
        },
    )
    event.refresh_from_db()
    stored = str(event.changes)
    assert "000123456789" not in stored
    assert "6789" in stored
    assert "sk_live_abcdef123456" not in stored


def test_record_refuses_an_unknown_action_name():
    with pytest.raises(ValueError, match="Unknown audit action"):
        audit.record(actor=None, action="payable.aproved", object_type="x")


def test_events_link_into_a_hash_chain():
    actor = make_user("alice")
    first, second = _write_events(actor, 2)
    assert first.prev_hash == GENESIS_HASH
    assert second.prev_hash == first.hash
    head = AuditChainHead.objects.get(pk=1)
    assert (head.last_event_id, head.last_hash) == (second.pk, second.hash)


def test_an_event_cannot_be_changed_through_the_orm():
    event = _write_events(make_user("alice"), 1)[0]
    event.reason = "rewritten"
    with pytest.raises(AuditLogIsAppendOnly):
        event.save()
    with pytest.raises(AuditLogIsAppendOnly):
        AuditEvent.objects.filter(pk=event.pk).update(reason="rewritten")
    assert AuditEvent.objects.get(pk=event.pk).reason == ""


def test_an_event_cannot_be_deleted_through_the_orm():
    event = _write_events(make_user("alice"), 1)[0]
    with pytest.raises(AuditLogIsAppendOnly):
        event.delete()
    with pytest.raises(AuditLogIsAppendOnly):
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_the_database_refuses_an_update_in_raw_sql():
    event = _write_events(make_user("alice"), 1)[0]
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE core_auditevent SET reason = 'x' WHERE id = %s", [event.pk])


def test_verify_audit_log_passes_on_an_untouched_log(capsys):
    _write_events(make_user("alice"), 5)
    call_command("verify_audit_log")
    assert "5 events verified" in capsys.readouterr().out


def test_verify_audit_log_names_an_event_altered_in_sql():
    events = _write_events(make_user("alice"), 5)
    target = events[2]
    with trigger_dropped(), connection.cursor() as cursor:
        cursor.execute("UPDATE core_auditevent SET reason = 'nothing happened' WHERE id = %s", [target.pk])
    with pytest.raises(CommandError, match=rf"Event #{target.pk} .* was altered"):
        call_command("verify_audit_log")


def test_verify_audit_log_names_an_event_altered_with_its_hash_rewritten():
    events = _write_events(make_user("alice"), 5)
    target = events[1]
    target.reason = "forged"
    forged_hash = audit.compute_hash(audit._content_of(target), target.prev_hash)
    with trigger_dropped(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE core_auditevent SET reason = 'forged', hash = %s WHERE id = %s", [forged_hash, target.pk]
        )
    with pytest.raises(CommandError, match=rf"Event #{target.pk} was altered"):
        call_command("verify_audit_log")


def test_verify_audit_log_reports_an_event_removed_from_the_middle():
    events = _write_events(make_user("alice"), 5)
    removed = events[2]
    with trigger_dropped(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM core_auditevent WHERE id = %s", [removed.pk])
    with pytest.raises(CommandError, match=rf"between #{events[1].pk} and #{events[3].pk} was removed"):
        call_command("verify_audit_log")


def test_verify_audit_log_reports_the_newest_event_removed():
    events = _write_events(make_user("alice"), 3)
    with trigger_dropped(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM core_auditevent WHERE id = %s", [events[-1].pk])
    with pytest.raises(CommandError, match=rf"newest event should be #{events[-1].pk}"):
        call_command("verify_audit_log")


@pytest.mark.django_db(transaction=True)
def test_two_workers_writing_at_once_keep_the_chain_intact():
    actor = make_user("alice")
    per_worker = 25
    errors = []
    start = threading.Barrier(2)

    def worker(n):
        try:
            start.wait()
            for i in range(per_worker):
                with transaction.atomic():
                    audit.record(
                        actor=actor,
                        action="record.updated",
                        object_type="tests.thing",
                        object_id=f"{n}-{i}",
                        after={"i": i},
                    )
        except Exception as exc:  # surfaced below with the thread's error
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert AuditEvent.objects.count() == 2 * per_worker
    report = audit.verify_chain()
    assert report.ok, report.problem
    # No two events claim the same predecessor.
    prev_hashes = list(AuditEvent.objects.values_list("prev_hash", flat=True))
    assert len(prev_hashes) == len(set(prev_hashes))


def _entries(count: int, *, start: int = 0) -> list[audit.Entry]:
    return [
        audit.Entry(
            action="record.updated",
            object_type="tests.thing",
            object_id=str(i),
            object_repr=f"thing {i}",
            before={"n": i},
            after={"n": i + 1, "account_number": "000123456789"},
            reason=f"line {i}",
        )
        for i in range(start, start + count)
    ]


def test_record_many_writes_one_event_per_entry_linked_into_the_chain_in_order():
    alice = make_user("alice", first_name="Alice", last_name="Smith")
    before = _write_events(alice, 2)
    written = audit.record_many(actor=alice, entries=_entries(3), source=AuditEvent.Source.TASK)
    after = _write_events(alice, 1)
    events = list(AuditEvent.objects.order_by("id"))
    assert [e.pk for e in events] == [e.pk for e in before + written + after]
    assert [(e.object_id, e.reason, e.actor_label, e.source) for e in events[2:5]] == [
        (str(i), f"line {i}", "alice (Alice Smith)", "task") for i in range(3)
    ]
    # Each links to the one before it, as events written one at a time do.
    assert all(events[i].prev_hash == events[i - 1].hash for i in range(1, len(events)))
    assert events[2].changes["n"] == {"before": 0, "after": 1}
    assert "000123456789" not in str(events[2].changes)  # masked, as record() masks
    assert events[2].search_key == "THING 0"
    assert AuditChainHead.objects.get(pk=1).last_event_id == after[-1].pk
    report = audit.verify_chain()
    assert report.ok and report.checked == 6, report.problem


def test_record_many_with_an_unknown_action_writes_nothing():
    alice = make_user("alice")
    entries = _entries(2) + [audit.Entry(action="no.such.action", object_type="tests.thing", object_id="9")]
    with pytest.raises(ValueError, match="Unknown audit action"):
        audit.record_many(actor=alice, entries=entries)
    assert not AuditEvent.objects.exists()


def test_verify_audit_log_names_an_event_of_a_bulk_write_altered_in_sql():
    alice = make_user("alice")
    written = audit.record_many(actor=alice, entries=_entries(4))
    with trigger_dropped(), connection.cursor() as cursor:
        cursor.execute("UPDATE core_auditevent SET reason = 'changed' WHERE id = %s", [written[2].pk])
    with pytest.raises(CommandError, match=rf"Event #{written[2].pk} .* was altered"):
        call_command("verify_audit_log")


@pytest.mark.django_db(transaction=True)
def test_a_bulk_writer_and_a_single_writer_at_once_keep_the_chain_intact():
    actor = make_user("alice")
    errors = []
    start = threading.Barrier(2)

    def bulk_writer():
        try:
            start.wait()
            for batch in range(10):
                audit.record_many(actor=actor, entries=_entries(20, start=batch * 20))
        except Exception as exc:  # surfaced below with the thread's error
            errors.append(exc)
        finally:
            connections.close_all()

    def single_writer():
        try:
            start.wait()
            for i in range(25):
                with transaction.atomic():
                    audit.record(actor=actor, action="record.updated", object_type="tests.other", object_id=str(i))
        except Exception as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=bulk_writer), threading.Thread(target=single_writer)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert AuditEvent.objects.count() == 10 * 20 + 25
    report = audit.verify_chain()
    assert report.ok, report.problem
    prev_hashes = list(AuditEvent.objects.values_list("prev_hash", flat=True))
    assert len(prev_hashes) == len(set(prev_hashes))
