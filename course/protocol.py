"""The exchange between the student's kernel (course.agent) and the grader's judge
(grader.judge): the one definition both sides import.

The grader sends a request as JSON text over Jupyter's stdin channel ("TOKEN JSON"); the agent
answers with the prompt of its next input(): PROMPT, the same token, and JSON {"reply": text,
"stdout": ..., "stderr": ...}, where text is the JSON of {"ok": value} or {"error": ...}.

A value crosses as JSON: null, true/false, ints, floats, strings and lists as themselves, and
everything else as a one-key object tagged with one of TAGS. Each side reads only what it
expects from the other: the kernel's values as data (grader.judge.decode), the grader's
arguments (course.agent._decode).
"""

TAGS = {
    # both ways
    "$f": "a float JSON cannot write: 'nan', 'inf' or '-inf'",
    "$c": "a complex number: [real, imag]",
    "$a": "a NumPy array of a numeric dtype: {dtype, shape, b64} (raw bytes, base64)",
    "$s": "a NumPy scalar: {dtype, shape: [], b64}",
    "$t": "a tuple: [item, ...]",
    "$d": "a dict: [[key, value], ...]",
    "$sym": "a SymPy expression: a course.symtree tree",
    "$g": "a NumPy random Generator (PCG64): its bit generator's state",
    "$o": "an object of one of VALUE_CLASSES: [module.qualname, its state]",
    "$r": "a handle to an object the kernel holds: {$r: n, type: module.qualname, call: bool}",
    # the kernel's values only
    "$nt": "a named tuple: [[field, ...], [item, ...]]",
    # the grader's arguments only
    "$sl": "a slice: [start, stop, step]",
    "$e": "Ellipsis",
    "$cb": "a function of the test's: the kernel calls it back in the grader, by its number",
    "$pcb": "a function of the test's whose result depends on its arguments alone (grader.judge.pure): "
            "called back as $cb, once for each distinct arguments; the kernel answers repeats with a copy",
    "$fn": "a function of a locked cell's, run in the kernel (course.testing.in_kernel)",
    "$kf": "one of KERNEL_FUNCTIONS, by its module and name: the kernel runs its own copy",
}

# The course's own classes that cross as their state (a network, its batch norm, the data set):
# a test builds them in the grader and hands them to the student's functions.
VALUE_CLASSES = frozenset({"course.mlp.MLP", "course.mlp.BatchNorm", "course.data.Split"})
# The course's own functions a test may run in the kernel by name (the kernel has the course
# package too, so no code is sent): a test's other functions stay in the grader and are called back.
KERNEL_FUNCTIONS = frozenset({"course.testing.with_stand_ins", "course.gradcheck.gradient_of"})
DATA_KINDS = "biufc"        # NumPy dtype kinds that cross as data: bool, int, uint, float, complex
MAX_DEPTH = 50              # containers nested in a value the agent sends as data (deeper: a handle)
MAX_DECODED_DEPTH = MAX_DEPTH + 10   # what the grader reads, with room for the tags' own wrappers
PROMPT = "course.agent:"    # what the agent's prompts start with
MAX_PRINTED = 100_000       # characters of what one call prints, sent back with its reply
MAX_REPLY = 64 * 2**20      # characters of one reply of the kernel's
