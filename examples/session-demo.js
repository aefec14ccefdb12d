#!/usr/bin/gjs
// SPDX-License-Identifier: LGPL-2.1-or-later
// librtspsession from JavaScript (GJS): a pool, a session, a media, the
// Session: header, and expiry at an explicit time.
imports.gi.versions.RtspSession = '1.0';
const {GLib, GObject, RtspSession} = imports.gi;

function check(condition, what) {
    if (!condition)
        throw new Error(`check failed: ${what}`);
}

const pool = RtspSession.RTSPSessionPool.new();
pool.set_max_sessions(100);
const removed = [];
pool.connect('session-removed', (_pool, session) => removed.push(session.get_sessionid()));

const session = pool.create();
session.set_timeout(30);
session.extra_timeout = 0;
const id = session.get_sessionid();
check(/^[A-Za-z0-9]{22}$/.test(id), 'a 22-character alphanumeric id');

const tone = new GObject.Object();
const media = session.manage_media('/tone', tone);
const [found, matched] = session.get_media('/tone/stream=0');
check(found === media && matched === 5, 'get_media finds /tone');
print(`Session: ${session.get_header()}`);

check(pool.find(id) === session, 'find returns the same session');
check(pool.find('no-such-session') === null, 'unknown ids are not found');

const now = GLib.get_monotonic_time();
check(pool.cleanup_usec(now) === 0, 'nothing expired yet');
check(pool.cleanup_usec(now + 31 * GLib.USEC_PER_SEC) === 1, 'expired 31 s later');
check(removed.length === 1 && removed[0] === id, 'session-removed names the session');
check(pool.get_n_sessions() === 0, 'the pool is empty');

const [ok, parsedId, timeout] = RtspSession.RTSPSession.header_parse(`${id};timeout=30`);
check(ok && parsedId === id && timeout === 30, 'header_parse');
print(`GJS: pool, session, media and header parsing work (${id})`);
