// Built against the installed VAPI.
int main () {
    var session = new Rs.RTSPSession ("fromvala");
    session.timeout = 20;
    var media = session.manage_media ("/tone", new GLib.Object ());
    int matched;
    var found = session.get_media ("/tone/stream=0", out matched);
    if (found != media || matched != 5 || session.get_header () != "fromvala;timeout=20")
        return 1;
    print ("vala: Session: %s\n", session.get_header ());
    return 0;
}
