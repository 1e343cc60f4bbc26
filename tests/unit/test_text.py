from bakeoff.engines.text import StopMatcher, Utf8Stream


def feed_all(stops, pieces):
    m = StopMatcher(stops)
    out = []
    for p in pieces:
        text, stopped = m.feed(p)
        out.append(text)
        if stopped:
            return "".join(out), True
    return "".join(out) + m.flush(), False


def test_stop_split_across_pieces_is_removed():
    assert feed_all(["END"], ["hello E", "N", "D and more"]) == ("hello ", True)


def test_partial_stop_prefix_is_released_when_it_does_not_complete():
    assert feed_all(["END"], ["a E", "Nx"]) == ("a ENx", False)


def test_earliest_of_several_stops_wins():
    assert feed_all(["\n\n", "User:"], ["one User: two\n\n"]) == ("one ", True)


def test_no_stops_passes_everything():
    assert feed_all([], ["a", "b"]) == ("ab", False)


def test_utf8_multibyte_split_across_tokens():
    s = Utf8Stream()
    data = "é€😀".encode()
    out = "".join(s.feed(data[i:i + 1]) for i in range(len(data))) + s.flush()
    assert out == "é€😀"
