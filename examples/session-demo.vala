// SPDX-License-Identifier: LGPL-2.1-or-later
// librtspsession from Vala, through the generated rtspsession-1.0.vapi: a
// pool, a session, a media, the Session: header and expiry.
int main () {
    var pool = new Rs.RTSPSessionPool ();
    pool.max_sessions = 100;
    string[] removed = {};
    pool.session_removed.connect ((session) => { removed += session.get_sessionid (); });

    Rs.RTSPSession session = pool.create ();
    session.set_timeout (30);
    session.extra_timeout = 0;
    string id = session.get_sessionid ();
    assert (id.length == 22);

    var media = session.manage_media ("/tone", new GLib.Object ());
    int matched;
    unowned Rs.RTSPSessionMedia? found = session.get_media ("/tone/stream=0", out matched);
    assert (found == media && matched == 5);
    print ("Session: %s\n", session.get_header ());

    var again = pool.find (id);
    assert (again == session);
    assert (pool.find ("no-such-session") == null);

    int64 now = GLib.get_monotonic_time ();
    assert (pool.cleanup_usec (now) == 0);
    assert (pool.cleanup_usec (now + 31 * GLib.TimeSpan.SECOND) == 1);
    assert (removed.length == 1 && removed[0] == id);
    assert (pool.get_n_sessions () == 0);

    string parsed_id;
    uint timeout;
    try {
        Rs.RTSPSession.header_parse (id + ";timeout=30", out parsed_id, out timeout);
    } catch (GLib.Error e) {
        error ("header_parse: %s", e.message);
    }
    assert (parsed_id == id && timeout == 30);
    print ("Vala: pool, session, media and header parsing work (%s)\n", id);
    return 0;
}
