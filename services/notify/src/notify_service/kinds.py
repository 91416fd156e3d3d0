"""Notification kinds and channels: the product's names, shared by every module of this service."""

from __future__ import annotations

from typing import Literal

PHASE_CHANGED = "phase_changed"
IDEAS_POSTED = "ideas_posted"
TASK_ASSIGNED = "task_assigned"
TASK_DUE_SOON = "task_due_soon"
PHASE_DEADLINE_NEAR = "phase_deadline_near"
POST_SUBMITTED = "post_submitted"
TASK_COMPLETED = "task_completed"
TASK_REJECTED = "task_rejected"
GOAL_ACHIEVED = "goal_achieved"
GENERATION_FAILED = "generation_failed"
APPROACHES_READY = "approaches_ready"
VOTE_CLOSES_SOON = "vote_closes_soon"
APPROACH_CHOSEN = "approach_chosen"
ANSWERS_MISSING = "answers_missing"
APPROACH_REPLACED = "approach_replaced"
TASK_REASSIGNED = "task_reassigned"  # to the member whose task went to someone else
TASK_UPDATED = "task_updated"  # to the holder of a task the owner edited
DIGEST = "digest"

KINDS = (PHASE_CHANGED, IDEAS_POSTED, TASK_ASSIGNED, TASK_DUE_SOON, PHASE_DEADLINE_NEAR,
         POST_SUBMITTED, TASK_COMPLETED, TASK_REJECTED, GOAL_ACHIEVED, GENERATION_FAILED,
         APPROACHES_READY, VOTE_CLOSES_SOON, APPROACH_CHOSEN, ANSWERS_MISSING, APPROACH_REPLACED,
         TASK_REASSIGNED, TASK_UPDATED, DIGEST)

IN_APP, EMAIL, WEBHOOK, PUSH = "in_app", "email", "webhook", "push"
Channel = Literal["in_app", "email", "webhook", "push"]
Kind = Literal["phase_changed", "ideas_posted", "task_assigned", "task_due_soon",
               "phase_deadline_near", "post_submitted", "task_completed", "task_rejected",
               "goal_achieved", "generation_failed", "approaches_ready", "vote_closes_soon",
               "approach_chosen", "answers_missing", "approach_replaced", "task_reassigned",
               "task_updated", "digest"]
