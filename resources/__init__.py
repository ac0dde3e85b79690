"""Files shipped with DNN Studio (installed as ``dnnstudio.resources``)."""
