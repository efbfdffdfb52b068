"""``predict``'s post-processing options: a value given on the command line replaces the model's own."""

import argparse

import pytest
from unet_helpers import make_net

from napari_tiled_unet.cli.instance_options import add_instance_options, instance_kwargs
from napari_tiled_unet.postprocess import InstanceSettings


def _instance_net():
    net = make_net(depth=2, wf=1, n_classes=4)
    net.metadata.update(task="instances", regression=["centre distance"],
                        postprocess={"seed_threshold": 0.4, "foreground_threshold": 0.7, "min_size": 20})
    return net


def _parsed(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_instance_options(parser)
    return parser.parse_args(list(argv))


def test_split_depth_and_thresholds_replace_the_models_values():
    net = _instance_net()
    assert instance_kwargs(_parsed(), net)["instance_settings"] is None, "nothing given: the model's settings"
    given = instance_kwargs(_parsed("--split-depth", "0", "--seed-threshold", "0.5"), net)["instance_settings"]
    assert given == InstanceSettings(seed_threshold=0.5, foreground_threshold=0.7, min_size=20, split_depth=0.0)


def test_bad_split_depth_names_the_value():
    with pytest.raises(ValueError, match="split_depth"):
        instance_kwargs(_parsed("--split-depth", "2"), _instance_net())


def test_flags_change_the_settings_for_the_images_planes():
    """On a Z stack whose planes are linked, the flags change the settings the model stores for linked planes."""
    net = _instance_net()
    net.metadata["postprocess_linked_planes"] = {"seed_threshold": 0.55, "foreground_threshold": 0.6, "min_size": 30,
                                                 "split_depth": 0.0}
    args = _parsed("--min-size", "5")
    args.output = "instances"
    on_stack = instance_kwargs(args, net, "ZYX")["instance_settings"]
    assert on_stack == InstanceSettings(seed_threshold=0.55, foreground_threshold=0.6, min_size=5, split_depth=0.0)
    on_plane = instance_kwargs(args, net, "YX")["instance_settings"]
    assert on_plane == InstanceSettings(seed_threshold=0.4, foreground_threshold=0.7, min_size=5)
    assert instance_kwargs(args, net, "TYX")["instance_settings"] == on_plane, "time points are not linked in Z"
