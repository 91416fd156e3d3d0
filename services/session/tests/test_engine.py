import pytest
from rally_shared.errors import Conflict, Forbidden, Unprocessable
from session_service.phases.engine import (
    DEFAULT_FLOW,
    SessionState,
    as_phase,
    auto_move_target,
    check_manual_move,
    validate_flow,
)


def state(phase: str, flow=None, ready=False) -> SessionState:
    return SessionState(phase=phase, flow=list(flow or DEFAULT_FLOW), approach_ready=ready)


def test_owner_moves_to_the_next_phase_only():
    check_manual_move(state("ideation"), "approaches", is_owner=True, is_admin=False)
    with pytest.raises(Conflict, match="allowed next phase is 'approaches'"):
        check_manual_move(state("ideation"), "tasks", is_owner=True, is_admin=False)
    with pytest.raises(Forbidden):
        check_manual_move(state("ideation"), "approaches", is_owner=False, is_admin=False)
    check_manual_move(state("ideation"), "approaches", is_owner=False, is_admin=True)


def test_tasks_need_a_ready_approach_and_submission_is_automatic():
    with pytest.raises(Conflict, match="not ready"):
        check_manual_move(state("approaches"), "tasks", is_owner=True, is_admin=False)
    check_manual_move(state("approaches", ready=True), "tasks", is_owner=True, is_admin=False)
    waiting = SessionState(phase="approaches", flow=list(DEFAULT_FLOW), approach_ready=False,
                           candidates_ready=True, approach_choice="owner")
    with pytest.raises(Conflict, match="No approach is chosen yet .approachChoice 'owner'") as err:
        check_manual_move(waiting, "tasks", is_owner=True, is_admin=False)
    assert err.value.details["missing"] == "approachChoice"
    with pytest.raises(Conflict, match="by itself"):
        check_manual_move(state("tasks", ready=True), "submission", is_owner=True, is_admin=False)
    check_manual_move(state("submission", ready=True), "completed", is_owner=True, is_admin=False)
    with pytest.raises(Conflict, match="completed"):
        check_manual_move(state("completed"), "ideation", is_owner=True, is_admin=True)
    # An unknown phase is refused where the client's text becomes a Phase.
    with pytest.raises(Unprocessable, match="Unknown phase 'party'"):
        as_phase("party")
    assert as_phase("tasks") == "tasks"


def test_flows_may_leave_phases_out():
    assert validate_flow(["approaches", "tasks", "submission", "completed"])
    assert validate_flow(["ideation", "completed"])
    check_manual_move(state("ideation", ["ideation", "completed"]), "completed", is_owner=True, is_admin=False)
    for bad in ([], ["ideation"], ["tasks", "ideation", "completed"], ["ideation", "ideation", "completed"],
                ["approaches", "tasks", "completed"], ["ideation", "x", "completed"]):
        with pytest.raises(Unprocessable):
            validate_flow(bad)


def test_deadlines_advance_only_where_nothing_is_awaited():
    assert auto_move_target(state("ideation")) == "approaches"
    assert auto_move_target(state("approaches")) is None
    assert auto_move_target(state("approaches", ready=True)) == "tasks"
    assert auto_move_target(state("tasks", ready=True)) is None
    assert auto_move_target(state("submission", ready=True)) == "completed"
    assert auto_move_target(state("completed")) is None
