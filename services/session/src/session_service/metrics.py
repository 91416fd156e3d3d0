"""Domain metrics of the session service."""

from prometheus_client import Counter

SESSIONS_CREATED = Counter("rally_session_sessions_created_total", "Sessions created")
MEMBERS_JOINED = Counter("rally_session_members_joined_total", "Members joined")
MEMBERS_LEFT = Counter("rally_session_members_left_total", "Members who left or were removed", ["reason"])
ANSWER_REMINDERS = Counter(
    "rally_session_answer_reminders_total", "Reminders sent to members who have not answered",
    ["trigger"])
IDEAS_POSTED = Counter("rally_session_ideas_posted_total", "Ideas posted")
COMMENTS_POSTED = Counter("rally_session_comments_posted_total", "Comments posted")
ANSWERS_SUBMITTED = Counter("rally_session_answers_submitted_total", "Answer sets submitted")
PHASE_TRANSITIONS = Counter(
    "rally_session_phase_transitions_total", "Phase transitions", ["from_phase", "to_phase", "reason"])
APPROACH_VOTES = Counter(
    "rally_session_approach_votes_total", "Votes cast (or changed) for a candidate approach")
APPROACHES_CHOSEN = Counter(
    "rally_session_approaches_chosen_total", "Approaches chosen among the candidates", ["how", "rank"])
