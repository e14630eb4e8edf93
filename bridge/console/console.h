/*
 * console.h: the web console (issue 10): routes under /console, served
 * when console.oidc.issuer is set. Sign-in with Okta (rp.h), server-side
 * sessions (session.h), CSRF tokens on every POST form, security headers on
 * every response, pages rendered through html.h. docs/console.md tells it
 * for people.
 */
#ifndef SB_CONSOLE_H
#define SB_CONSOLE_H

struct app;

/* Register the /console routes on a->router (none when the console is
 * disabled). 0 or -1. */
int console_routes(struct app *a);

#endif
