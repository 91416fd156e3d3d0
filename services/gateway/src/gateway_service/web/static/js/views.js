// The screens after signing in: a second file, loaded once the first screen shows, so a first
// visit on a slow connection gets to the sign-in screen sooner (see gateway_service.web.bundle).
import { notificationsView } from './notifications.js';
import { sessionView } from './session.js';
import { sessionsView } from './sessions.js';

export const views = { notificationsView, sessionView, sessionsView };
