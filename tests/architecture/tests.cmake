# The build's own enforcement of the layering, next to layering_test.cpp (which reads the
# includes): each layer target's include paths reach only the folders below it.
set(_layer_rules
  "codegen attnjit|codegen|templates runtime|db|tuner|api|service|cli"
  "runtime attnjit|codegen|templates|runtime db|tuner|api|service|cli"
  "db attnjit|codegen|db runtime|tuner|api|service|cli"
  "tuner attnjit|codegen|runtime|db|tuner api|service|cli"
  "api attnjit|codegen|runtime|db|tuner|api service|cli")
if(ATTNJIT_WITH_SERVICE)
  list(APPEND _layer_rules "service attnjit|codegen|runtime|db|tuner|api|service cli")
endif()
foreach(_rule ${_layer_rules})
  string(REPLACE " " ";" _rule "${_rule}")
  list(GET _rule 0 _layer)
  list(GET _rule 1 _allowed)
  list(GET _rule 2 _forbidden)
  set(_tgt attnjit_${_layer})
  if(_layer STREQUAL "service")
    set(_tgt attnjit-service)
  endif()
  set(_incs "$<JOIN:$<TARGET_PROPERTY:${_tgt},INCLUDE_DIRECTORIES>,|>")
  add_test(NAME layering_build_${_layer}
           COMMAND ${CMAKE_COMMAND} -DCXX=${CMAKE_CXX_COMPILER} -DLAYER=${_layer} "-DINCLUDES=${_incs}"
                   "-DALLOWED=${_allowed}" "-DFORBIDDEN=${_forbidden}" -DSOURCE_DIR=${CMAKE_SOURCE_DIR}
                   -DWORK=${CMAKE_CURRENT_BINARY_DIR}/layering
                   -P ${CMAKE_CURRENT_LIST_DIR}/layer_includes.cmake)
  set_tests_properties(layering_build_${_layer} PROPERTIES LABELS architecture)
endforeach()
