"""The light plot widget: edits become small messages; before a view exists they go into
the state a new view starts from; a view that appears later gets the whole figure."""

import json

import pytest

import numpy as np
import plotly.graph_objects as go

from widgets.kit.plotpane import PlotPane, _plain, page_link


def pane_with_outbox():
    pane = PlotPane(go.Figure(go.Scatter(x=[1, 2], y=[3, 4])))
    outbox = []
    pane.send = lambda msg: outbox.append(msg)
    return pane, outbox


def test_edits_before_a_view_update_the_initial_state_only():
    pane, outbox = pane_with_outbox()
    with pane.batch() as fig:
        fig.data[0].update(y=[5, 6])
    assert outbox == []
    assert json.loads(pane.figure_json)["data"][0]["y"] == [5, 6]


def test_a_new_view_gets_the_whole_figure_then_small_updates():
    pane, outbox = pane_with_outbox()
    pane._on_msg(pane, {"type": "ready"}, [])
    first = json.loads(outbox[0]["payload"])
    assert first["kind"] == "react" and first["data"][0]["y"] == [3, 4]
    with pane.batch() as fig:
        fig.data[0].update(y=np.array([7.0, float("nan")]), x=[1, None])
        fig.layout.title = "t"
    msg = json.loads(outbox[1]["payload"])
    assert msg == {"kind": "update", "restyle": {"y": [[7.0, None]], "x": [[1, None]]},
                   "relayout": {"title": {"text": "t"}}, "traces": [0]}
    assert pane.busy  # not drawn yet
    pane._on_msg(pane, {"type": "drawn", "id": outbox[1]["id"]}, [])
    assert not pane.busy


def test_a_view_that_drew_the_current_figure_is_not_sent_it_again():
    pane, outbox = pane_with_outbox()
    with pane.batch() as fig:
        fig.data[0].update(y=[5, 6])
    drawn = json.loads(pane.figure_json)  # what a view starts from
    pane._on_msg(pane, {"type": "ready", "rev": drawn["rev"]}, [])
    assert outbox == []  # nothing to redraw
    with pane.batch() as fig:
        fig.data[0].update(y=[7, 8])
    assert json.loads(outbox[0]["payload"])["kind"] == "update"
    # A second view starts from the state of the first draw, which is stale now: it gets the figure.
    pane._on_msg(pane, {"type": "ready", "rev": drawn["rev"]}, [])
    last = json.loads(outbox[-1]["payload"])
    assert last["kind"] == "react" and last["data"][0]["y"] == [7, 8]


def test_plain_json_conversion():
    assert _plain({"a": np.arange(3), "b": (np.float32(1.5), float("inf"))}) == {"a": [0, 1, 2], "b": [1.5, None]}


def test_one_page_link_per_kernel_sends_the_installed_plotly_js_on_request():
    a, b = page_link(), page_link()
    assert a is b
    outbox = []
    a.send = lambda msg: outbox.append(msg)
    a._on_msg(a, {"type": "need-plotly"}, [])
    src = outbox[0]["source"]
    assert len(src) > 1_000_000 and "Plotly" in src[:5000] + src[-5000:]


def test_a_property_left_alone_on_one_trace_is_not_reset_on_it():
    pane, outbox = pane_with_outbox()
    with pane.batch() as fig:
        fig.add_scatter(x=[0], y=[0])
    pane._on_msg(pane, {"type": "ready"}, [])
    with pane.batch() as fig:
        fig.data[0].update(x=[9, 9])
        fig.data[1].update(y=[8])
    msg = json.loads(outbox[-1]["payload"])
    assert msg["traces"] == [0, 1]
    # trace 1's x and trace 0's y must arrive as "leave alone", never as null (= reset)
    assert msg["restyle"]["x"] == [[9, 9], "__seqviz_undefined__"]
    assert msg["restyle"]["y"] == ["__seqviz_undefined__", [8]]


def test_typed_arrays_arrive_as_plain_lists():
    fig = go.Figure(go.Heatmap(z=np.arange(6, dtype=np.int32).reshape(2, 3), x=np.arange(3, dtype=np.int64)))
    data = json.loads(PlotPane(fig).figure_json)["data"][0]
    assert data["z"] == [[0, 1, 2], [3, 4, 5]] and data["x"] == [0, 1, 2]


def test_apply_writes_a_patch_by_trace_meta_as_one_message():
    from seqviz.figures.patch import build, merge, patch

    fig = go.Figure([go.Scatter(x=[], y=[], meta="a"), go.Scatter(x=[], y=[], meta="b")])
    pane = PlotPane(fig)
    outbox = []
    pane._seen_view = True
    pane.send = lambda msg, *a, **k: outbox.append(msg)
    p = merge(patch({"a": {"y": [1, 2]}}), patch({"b": {"y": [3]}}, {"title": {"text": "t"}}), patch({"a": {"x": [0, 1]}}))
    pane.apply(p)
    assert len(outbox) == 1
    snap = pane.snapshot()
    assert snap["data"][0]["x"] == [0, 1] and snap["data"][0]["y"] == [1, 2] and snap["data"][1]["y"] == [3]
    assert snap["layout"]["title"]["text"] == "t"
    built = build(fig, p)
    assert list(built.data[0].y) == [1, 2] and fig.data[0].y == ()  # build leaves the skeleton alone
    with pytest.raises(KeyError):
        pane.apply(patch({"missing": {"y": [1]}}))


def test_merge_replaces_whole_layout_values():
    from seqviz.figures.patch import merge, patch

    m = merge(patch(layout={"shapes": [1], "xaxis": {"range": [0, 1]}}),
              patch(layout={"shapes": [2, 3], "xaxis": {"title": "t"}}))
    assert m["layout"] == {"shapes": [2, 3], "xaxis": {"range": [0, 1], "title": "t"}}
