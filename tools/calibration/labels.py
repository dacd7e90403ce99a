"""Which module, or labelled region of a module's forward, is running: the calibration
scripts attribute each saved or live tensor to it."""
import contextlib


class Labeler:
    def __init__(self, root, root_label):
        self.stack = [root_label]
        self.handles = []
        for name, mod in root.named_modules():
            label = root_label if name == "" else name
            self.handles.append(mod.register_forward_pre_hook(self._pre(label)))
            self.handles.append(mod.register_forward_hook(self._post(label)))

    def _pre(self, label):
        def hook(mod, inp):
            self.stack.append(label)
        return hook

    def _post(self, label):
        def hook(mod, inp, out):
            assert self.stack[-1] == label
            self.stack.pop()
        return hook

    def current(self):
        return self.stack[-1]

    def remove(self):
        for h in self.handles:
            h.remove()


_ACTIVE_LABELER = [None]


@contextlib.contextmanager
def region(name):
    """Label a functional sub-region of a module's forward (e.g. rope)."""
    lab = _ACTIVE_LABELER[0]
    if lab is None:
        yield
        return
    lab.stack.append(lab.stack[-1] + "/" + name)
    try:
        yield
    finally:
        lab.stack.pop()
