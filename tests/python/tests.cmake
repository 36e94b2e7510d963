# pytest suites of the Python package (tests/python/), run on the module built in this tree
# (build/python/attnjit), plus the packaging test: `pip install .` into a fresh venv.
# No return() here: this file is include()d inside tests/CMakeLists.txt's loop over folders.
if(NOT TARGET _attnjit)
  message(STATUS "attnjit: tests/python skipped (Python module not built)")
else()
  # pytest from the interpreter's environment, else the copy scripts/gpu-carry.sh carries.
  set(_py_path "${CMAKE_BINARY_DIR}/python")
  execute_process(COMMAND ${ATTNJIT_PYTHON_EXE} -c "import pytest" RESULT_VARIABLE _no_pytest OUTPUT_QUIET ERROR_QUIET)
  if(_no_pytest AND EXISTS "${CMAKE_SOURCE_DIR}/.carry/python")
    string(APPEND _py_path ":${CMAKE_SOURCE_DIR}/.carry/python")
  elseif(_no_pytest)
    message(WARNING "attnjit: ${ATTNJIT_PYTHON_EXE} has no pytest (scripts/setup.sh installs it); python_pytest will fail")
  endif()
  add_test(NAME python_pytest
           COMMAND ${ATTNJIT_PYTHON_EXE} -m pytest -q -rs -p no:cacheprovider ${CMAKE_CURRENT_LIST_DIR}
           WORKING_DIRECTORY ${CMAKE_BINARY_DIR})
  set_tests_properties(python_pytest PROPERTIES LABELS python TIMEOUT 900
    ENVIRONMENT "PYTHONPATH=${_py_path};ATTNJIT_CLI=$<TARGET_FILE:attnjit-cli>;ATTNJIT_README=${CMAKE_SOURCE_DIR}/README.md;PYTHONDONTWRITEBYTECODE=1")

  add_test(NAME python_packaging
           COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/packaging_test.sh ${CMAKE_SOURCE_DIR} ${CMAKE_BINARY_DIR}/python-packaging)
  set_tests_properties(python_packaging PROPERTIES LABELS packaging TIMEOUT 1800 SKIP_RETURN_CODE 77)
endif()
