// The one source of the targets that hold the tests' precompiled headers
// (tests/CMakeLists.txt): a PCH needs a target compiled with the tests'
// flags, and its main comes from volley_test_main.
