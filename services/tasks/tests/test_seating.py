"""The seating rules on their own: which seat a joiner takes, who inherits a freed task."""

from rally_shared.contracts.approach import Requirement, Role
from tasks_service.tasks.seating import Candidate, needed, requirement_text, seat_for, successor

CAR = Requirement(question="has_car", equals=True)
DRIVER = Role(key="driver", name="Driver", requires=[CAR], min=1, max=2, effort=3)
SNACKS = Role(key="snacks", name="Snacks", min=0, max=2, effort=1)
TICKETS = Role(key="tickets", name="Tickets", min=1, max=1, effort=2)
HOST = Role(key="host", name="Host", min=0, max=3, effort=1,
            requires=[Requirement(question="budget", at_least=30)])


def test_a_free_seat_below_its_min_comes_first_then_the_least_demanding():
    roles = [DRIVER, SNACKS, TICKETS]
    # Tickets is below its min: it wins over the easier snacks seat.
    seat = seat_for(roles, {"driver": 1, "snacks": 1}, {})
    assert seat is not None and (seat.role.key, seat.beyond_max) == ("tickets", False)
    seat = seat_for(roles, {"driver": 1, "snacks": 1, "tickets": 1}, {})
    assert seat is not None and (seat.role.key, seat.beyond_max) == ("snacks", False)
    # With a car the driver role is reachable too, and it is the only one with a free seat.
    seat = seat_for([DRIVER, TICKETS], {"driver": 1, "tickets": 1}, {"has_car": True})
    assert seat is not None and (seat.role.key, seat.beyond_max) == ("driver", False)


def test_a_new_seat_of_the_least_demanding_role_when_all_are_full():
    seat = seat_for([DRIVER, TICKETS, SNACKS], {"driver": 2, "tickets": 1, "snacks": 2}, {"has_car": True})
    assert seat is not None and (seat.role.key, seat.beyond_max) == ("snacks", True)
    assert seat_for([DRIVER, HOST], {}, {"budget": 10}) is None


def test_a_freed_task_goes_to_a_qualified_finished_member_with_fewest_tasks():
    people = [Candidate("busy", {"has_car": True}, held=1, finished=False),
              Candidate("walker", {"has_car": False}, held=0, finished=True),
              Candidate("two", {"has_car": True}, held=2, finished=True),
              Candidate("one", {"has_car": True}, held=1, finished=True)]
    assert successor([CAR], people) == "one"
    assert successor([], people) == "walker"
    assert successor([CAR], people[:2]) is None


def test_an_open_seat_is_needed_only_below_the_roles_min():
    assert needed(TICKETS, 0)
    assert not needed(TICKETS, 1)
    assert not needed(SNACKS, 0)
    assert needed(None, 5)  # a role the plan does not know: the task must be done


def test_requirements_read_as_the_contract_writes_them():
    assert requirement_text(CAR) == "requires has_car = true"
    assert requirement_text(Requirement(question="budget", at_least=30)) == "requires budget >= 30"
    assert requirement_text(Requirement(question="budget", at_least=7.5)) == "requires budget >= 7.5"
    assert requirement_text(Requirement(question="city", equals="Berlin")) == "requires city = Berlin"
