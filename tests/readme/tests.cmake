# The README's shell examples, run against a real server (run_readme_examples.py says how and
# README.md states the marking convention), plus checks that the runner itself can fail.
if(ATTNJIT_WITH_SERVICE)
  find_package(Python3 COMPONENTS Interpreter)
  if(Python3_FOUND)
    set(runner ${CMAKE_CURRENT_LIST_DIR}/run_readme_examples.py)
    add_test(NAME readme_examples
             COMMAND ${Python3_EXECUTABLE} ${runner} --attnjit $<TARGET_FILE:attnjit-cli>
                     --readme ${CMAKE_SOURCE_DIR}/README.md)
    set_tests_properties(readme_examples PROPERTIES LABELS readme TIMEOUT 900)
    add_test(NAME readme_runner_counts_skips
             COMMAND ${Python3_EXECUTABLE} ${runner} --attnjit $<TARGET_FILE:attnjit-cli>
                     --readme ${CMAKE_CURRENT_LIST_DIR}/selftest/ok.md)
    set_tests_properties(readme_runner_counts_skips PROPERTIES LABELS readme
                         PASS_REGULAR_EXPRESSION "3 shell examples: 1 ran, 2 skipped \\(forever: 1, gpu: 1\\), 0 failed")
    foreach(bad fail unlabelled)
      add_test(NAME readme_runner_rejects_${bad}
               COMMAND ${Python3_EXECUTABLE} ${runner} --attnjit $<TARGET_FILE:attnjit-cli>
                       --readme ${CMAKE_CURRENT_LIST_DIR}/selftest/${bad}.md)
      set_tests_properties(readme_runner_rejects_${bad} PROPERTIES LABELS readme WILL_FAIL TRUE)
    endforeach()
  else()
    message(STATUS "attnjit: README example tests skipped (no python3)")
  endif()
endif()
