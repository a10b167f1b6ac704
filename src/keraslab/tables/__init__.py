"""keraslab.tables: features from tables, fitted on the training part only.

- roles: what each column of any table is (numeric, yes/no, categorical; identifiers and constants dropped)
- preprocessor: `TablePreprocessor`, scikit-learn imputing, scaling and one-hot encoding by role
- churn_preprocessor: `ChurnPreprocessor`, the course's telco churn encoding (26 features), fixed categories
"""

from keraslab.lazy import public_names
from keraslab.tables.churn_preprocessor import FEATURES as CHURN_FEATURES
from keraslab.tables.churn_preprocessor import ChurnPreprocessor, encode_target
from keraslab.tables.preprocessor import TablePreprocessor, build_transformer
from keraslab.tables.roles import ColumnRoles, clean_frame, infer_roles

__all__ = public_names(globals())
